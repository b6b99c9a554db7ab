// The emulator's Node runtime for one invocation (services/awslambda.py starts it):
//   node bootstrap.mjs <module file> <export name> <result file>   (event on stdin)
// Loads the deployed handler, calls it with the event and a Lambda context, and writes
// {"ok": true, "payload": ...} or {"ok": false, "errorType", "errorMessage", "stackTrace"} to the result file.
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [moduleFile, exportName, resultFile] = process.argv.slice(2);
const env = process.env;
const deadline = Number(env._EMULATOR_DEADLINE_MS);
const write = (result) => {
  writeFileSync(resultFile, JSON.stringify(result));
  process.exit(0); // Lambda freezes the sandbox once the handler answers; nothing after it runs
};
const fail = (error) =>
  write({
    ok: false,
    errorType: (error && error.name) || "Error",
    errorMessage: (error && error.message) || String(error),
    stackTrace:
      error && error.stack
        ? String(error.stack)
            .split("\n")
            .map((l) => l.trim())
            .filter((l) => l.startsWith("at "))
        : [],
  });

process.on("uncaughtException", fail);
process.on("unhandledRejection", fail);

const context = {
  functionName: env.AWS_LAMBDA_FUNCTION_NAME,
  functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
  invokedFunctionArn: env._EMULATOR_FUNCTION_ARN,
  memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
  awsRequestId: env._EMULATOR_REQUEST_ID,
  logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
  logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  done: (error, result) => (error ? fail(error) : write({ ok: true, payload: result ?? null })),
  succeed: (result) => write({ ok: true, payload: result ?? null }),
  fail: (error) => fail(typeof error === "string" ? new Error(error) : error),
};

let event;
try {
  event = JSON.parse(readFileSync(0, "utf8") || "{}");
} catch (error) {
  fail(Object.assign(new Error(`the event is not JSON: ${error.message}`), { name: "Runtime.InvalidEvent" }));
}
let handler;
try {
  const mod = await import(pathToFileURL(moduleFile).href);
  handler = mod[exportName] ?? (mod.default && mod.default[exportName]);
} catch (error) {
  fail(Object.assign(error instanceof Error ? error : new Error(String(error)), { name: "Runtime.ImportModuleError" }));
}
if (typeof handler !== "function") {
  fail(
    Object.assign(new Error(`${moduleFile} does not export a function named ${exportName}`), {
      name: "Runtime.HandlerNotFound",
    }),
  );
} else {
  try {
    const answer = handler(event, context, (error, result) =>
      error ? fail(error) : write({ ok: true, payload: result ?? null }),
    );
    if (answer && typeof answer.then === "function")
      answer.then((result) => write({ ok: true, payload: result ?? null }), fail);
  } catch (error) {
    fail(error);
  }
}
