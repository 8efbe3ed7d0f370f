// A Node.js client of matcher.v1 with @grpc/grpc-js: finds suppliers near a point (Match),
// re-checks the first slot it got (CheckSlots), then sends an invalid request and reads the
// google.rpc.ErrorInfo reason every error of the service carries.
//
//   npm ci && node client.js [host:port]        (default localhost:50051, plaintext)
//
// It prints one JSON object a step on stdout; tests/e2e/test_examples.py runs it.

import path from "node:path";
import { fileURLToPath } from "node:url";

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import googleProtos from "google-proto-files";

const here = path.dirname(fileURLToPath(import.meta.url));
const address = process.argv[2] ?? "localhost:50051";
const DEADLINE_MS = 10_000;

// The contract itself, from this repository's proto/, loaded at run time: field names as in
// the proto (keepCase), enums as their names.
const definition = protoLoader.loadSync("matcher/v1/matcher.proto", {
  includeDirs: [path.resolve(here, "../../proto")],
  keepCase: true,
  enums: String,
  longs: Number,
  defaults: true,
  oneofs: true,
});
const { matcher } = grpc.loadPackageDefinition(definition);
const client = new matcher.v1.MatcherService(address, grpc.credentials.createInsecure());

// google.rpc.Status and its details, to decode the grpc-status-details-bin trailer.
const rpc = googleProtos.loadSync(
  ["status.proto", "error_details.proto"].map((name) => googleProtos.getProtoPath("rpc", name)),
);
const Status = rpc.lookupType("google.rpc.Status");

/** Calls one unary method with a deadline; resolves with the response, rejects with the error. */
function call(method, request) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + DEADLINE_MS);
    client[method](request, { deadline }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

/** The details of a failed call's google.rpc.Status, each decoded by its type URL. */
function details(error) {
  const [trailer] = error.metadata?.get("grpc-status-details-bin") ?? [];
  if (!trailer) return [];
  return Status.decode(trailer).details.map((any) => {
    const type = rpc.lookupType(any.type_url.split("/").pop());
    return { type: type.fullName.replace(/^\./, ""), ...type.toObject(type.decode(any.value)) };
  });
}

const match = await call("Match", {
  location: { point: { lat: 34.05, lng: -118.25 } },
  modalities: ["MODALITY_IN_PERSON"],
  page_size: 3,
  max_slots_per_supplier: 1,
});
const [first] = match.matches;
const slot = first.slots[0];
console.log(
  JSON.stringify({
    step: "Match",
    user_timezone: match.user_timezone.zone,
    suppliers: match.matches.map((m) => m.supplier.id),
    slot_id: slot.slot_id,
    user_local_start: slot.user_local_start,
    user_local_end: slot.user_local_end,
  }),
);

const checked = await call("CheckSlots", { slot_ids: [slot.slot_id] });
console.log(JSON.stringify({ step: "CheckSlots", status: checked.results[0].status }));

try {
  await call("Match", { location: { point: { lat: 95, lng: 0 } } });
  throw new Error("a latitude of 95 was accepted");
} catch (error) {
  if (error.code === undefined) throw error;
  const found = details(error);
  const info = found.find((d) => d.type === "google.rpc.ErrorInfo");
  const badRequest = found.find((d) => d.type === "google.rpc.BadRequest");
  console.log(
    JSON.stringify({
      step: "invalid Match",
      code: grpc.status[error.code],
      domain: info?.domain,
      reason: info?.reason,
      fields: badRequest?.fieldViolations.map((v) => v.field),
    }),
  );
}
client.close();
