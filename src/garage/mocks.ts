// What the Garage dynamic providers would answer, for runs under Pulumi's mocks (program/harness.ts): the mocks
// echo inputs, so without this a GarageBucket's bucketId, accessKeyId and secret would be undefined there.
// Values are deterministic functions of the resource name; the secret is wrapped as a Pulumi secret.
import { createHash } from "node:crypto";

const hex = (s: string, n: number): string => createHash("sha256").update(s).digest("hex").slice(0, n);

/** Extra mock state for a `pulumi-nodejs:dynamic:Resource`, recognised by its Garage input shape; {} otherwise. */
export function garageMockState(name: string, inputs: Record<string, unknown>, secret: (v: string) => unknown): Record<string, unknown> {
  // The first object of a website (S3 API): on an empty new bucket it is written.
  if ("s3Url" in inputs && "content" in inputs) return { created: true };
  if (!("adminUrl" in inputs)) return {};
  if ("globalAlias" in inputs) return { bucketId: hex(`bucket:${name}`, 64) };
  if ("permissions" in inputs) return {};
  if ("name" in inputs) {
    return { accessKeyId: `GK${hex(`key:${name}`, 24)}`, secretAccessKey: secret(`mock-garage-secret-${hex(`secret:${name}`, 48)}`) };
  }
  return {};
}
