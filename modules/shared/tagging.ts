/**
 * The one tagging aspect. It stamps the platform's required tags on every taggable resource so
 * cost reports and ownership queries work from the resource itself, not only through the
 * provider's default_tags (which the synthesized JSON, policies and some AWS APIs do not show).
 */
import { IAspect, TerraformResource, Token } from "cdktf";
import { IConstruct } from "constructs";
import type { EnvironmentConfig } from "../../environments";

/** The tags every taggable resource carries. Keys are reserved (environment config cannot set them). */
export function requiredTags(
  env: Pick<EnvironmentConfig, "name" | "project" | "owner" | "costCentre">,
): Record<string, string> {
  return {
    environment: env.name,
    project: env.project,
    owner: env.owner,
    "cost-centre": env.costCentre,
    "managed-by": "cdktf",
  };
}

type Taggable = TerraformResource & { tags?: Record<string, string>; readonly tagsInput?: Record<string, string> };

/** Provider resources with a `tags` argument expose a `tagsInput` getter. */
export function isTaggable(node: IConstruct): node is Taggable {
  return node instanceof TerraformResource && "tagsInput" in node;
}

export class TaggingAspect implements IAspect {
  constructor(private readonly tags: Readonly<Record<string, string>>) {}

  visit(node: IConstruct): void {
    if (!isTaggable(node)) return;
    const current = node.tagsInput;
    if (current !== undefined && Token.isUnresolved(current)) {
      throw new Error(`${node.node.path}: tags are a token; the tagging aspect cannot add the required tags to it`);
    }
    // Resource-specific tags (e.g. "zone") stay; the required ones always win.
    node.tags = { ...(current ?? {}), ...this.tags };
  }
}
