/**
 * Stack outputs, declared by the module that owns the value (as terraform-aws-modules' outputs.tf
 * does), each with a description `terraform output` and the outputs file show.
 *
 * An output is attached to the stack itself, under its public name: operators, tests and GitOps
 * jobs read these names, and cdktf's outputs file nests outputs by construct path, so an output
 * placed inside a module would move there and change the file those readers parse.
 */
import { TerraformOutput, TerraformStack } from "cdktf";
import type { IConstruct } from "constructs";

/** Adds the stack output `name` (its logical id too) holding `value`, explained by `description`. */
export function stackOutput(scope: IConstruct, name: string, value: unknown, description: string): TerraformOutput {
  return new TerraformOutput(TerraformStack.of(scope), name, { value, description, staticId: true });
}

/** `{ key: pick(item) }` for a record of constructs: the shape of the per-dataset outputs. */
export function mapValues<T, R>(items: Readonly<Record<string, T>>, pick: (item: T) => R): Record<string, R> {
  return Object.fromEntries(Object.entries(items).map(([key, item]) => [key, pick(item)]));
}
