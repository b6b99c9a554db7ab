/**
 * EMR Serverless (opt-in): a Spark application for persistent, heavy work with complex
 * dependencies — what the decision rules send to EMR. It scales from zero to the configured
 * ceiling, stops when idle, and runs in the private subnets. Its job runtime role reads the
 * processed and consumer zones and writes the consumer zone (and its catalog), nothing else.
 */
import type { IngestionConfig } from "../../environments";
import { EmrserverlessApplication } from "@cdktf/provider-aws/lib/emrserverless-application";
import { Construct } from "constructs";
import type { IngestionContext } from "./context";
import { livesIn } from "../../datasets";
import { ServiceRole } from "../shared/iam";
import type { SecureBucket } from "../shared/secure-bucket";

/** The environment's `ingestion.emrServerless` without its switch (documented in environments/schema.ts). */
export type EmrServerlessSettings = Omit<IngestionConfig["emrServerless"], "enabled" | "disabledReason">;

export interface EmrServerlessProps extends IngestionContext {
  readonly artifacts: SecureBucket;
  readonly scratch: SecureBucket;
  readonly settings: EmrServerlessSettings;
}

export class EmrServerless extends Construct {
  readonly application: EmrserverlessApplication;
  /** Pass as `executionRoleArn` when starting job runs. */
  readonly runtimeRole: ServiceRole;

  constructor(scope: Construct, id: string, props: EmrServerlessProps) {
    super(scope, id);
    const { naming, accountId, region, lake, catalog, network, settings } = props;
    const name = naming.name("spark");
    this.application = new EmrserverlessApplication(this, "application", {
      name,
      releaseLabel: settings.releaseLabel,
      type: "spark",
      architecture: "X86_64",
      maximumCapacity: { cpu: `${settings.maxCapacity.cpuVcpu} vCPU`, memory: `${settings.maxCapacity.memoryGb} GB` },
      autoStartConfiguration: { enabled: true },
      autoStopConfiguration: { enabled: true, idleTimeoutMinutes: settings.autoStopMinutes },
      // Spark workers have the same network needs as Glue's: S3 and the AWS endpoints, nothing else.
      networkConfiguration: { subnetIds: network.subnetIds, securityGroupIds: [network.glueSecurityGroup.id] },
    });

    this.runtimeRole = new ServiceRole(this, "runtime-role", {
      naming,
      name: "emr-runtime",
      service: "emr-serverless.amazonaws.com",
      accountId,
      sourceArns: [naming.arn({ service: "emr-serverless", region, account: accountId, resource: "/applications/*" })],
      description: "EMR Serverless job runs: read processed and consumer, write consumer",
    });
    props.artifacts.grantRead(this.runtimeRole, "emr/");
    props.scratch.grantReadWrite(this.runtimeRole, "emr/", { allowDelete: true });
    for (const dataset of props.datasets) {
      if (livesIn(dataset, "processed"))
        lake.grantRead("processed", this.runtimeRole, dataset.prefix, { folderKey: true });
      if (livesIn(dataset, "consumer"))
        lake.grantReadWrite("consumer", this.runtimeRole, dataset.prefix, { allowDelete: true, folderKey: true });
    }
    catalog.grantReadTables(this.runtimeRole, "processed");
    catalog.grantWriteTables(this.runtimeRole, "consumer");
    catalog.grantLakeFormation("emr-processed", "processed", this.runtimeRole.arn, "read", this.runtimeRole);
    catalog.grantLakeFormation("emr-consumer", "consumer", this.runtimeRole.arn, "write");
  }
}
