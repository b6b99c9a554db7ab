"""The emulator's local Glue runtime: an `awsglue` that implements exactly what the platform's job
entry points call, over local PySpark, so a deployed job runs its own script unchanged.

It is an emulation of the AWS Glue 5.0 library, not that library (which AWS does not publish):
  * awsglue.utils.getResolvedOptions  - `--name value` arguments, as Glue passes them
  * awsglue.context.GlueContext       - spark_session, create_dynamic_frame.from_options for the JDBC
                                        connectors (postgresql, mysql) through a Glue connection with
                                        job bookmarks, and the DynamoDB export connector
  * awsglue.job.Job                   - init/commit; commit hands the bookmark state back to the emulator
  * awsglue.dynamicframe.DynamicFrame - toDF
Anything else raises, and glue-jobs/tests/test_glue_runtime_surface.py fails when a job starts
calling an `awsglue` name this package does not define. The emulator (services/glue_jobs.py) starts
the Spark session, with s3:// served by EmulatorS3FileSystem, before the job script runs.
"""
