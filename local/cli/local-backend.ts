// The AWS side of a CLI run: the embedded emulators behind the runtime's one endpoint (the default, listening
// at --listen), or the endpoint given with --endpoint (LocalStack, or a `bounded-fanout serve`: SQS, S3,
// DynamoDB and EventBridge on one URL). The manifest file goes into the stack's data bucket,
// under the manifests prefix, and the orchestrator reads it from there as it would in the cloud. With the
// embedded emulators behind the runtime's one endpoint, the object is served from a copy of the file on disk
// (local/disk-objects.ts) instead of being put into the S3 emulator, which would hold it whole in memory.
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { FanoutConfig } from '../../lib/config.js';
import { contentTypeOf } from '../../lib/manifest/index.js';
import { type Backend, type BackendInfo, BackendKinds, startBackend } from '../backend.js';
import { EDGE_HEALTH_PATH, EDGE_SERVICE_NAME } from '../edge.js';
import type { ListenAddress } from '../edge-listen.js';
import { createResources, localCredentials } from '../resources.js';
import { manifestFileFormat } from './manifest-file.js';
import { asEndpointError } from './sqs-endpoint.js';

export interface CliBackend {
  readonly info: BackendInfo;
  /** Set when --endpoint is a `bounded-fanout serve`: the stack it serves. */
  readonly serve?: { readonly prefix: string };
  stop(): Promise<void>;
}

export async function openBackend({
  endpoint,
  region,
  log,
  listen,
  dynamoPath,
}: {
  endpoint?: string;
  region?: string;
  log: (line: string) => void;
  /** Where the runtime's one endpoint listens (no --endpoint): default 127.0.0.1:4566 when free. */
  listen?: ListenAddress;
  /** `run --state DIR`: dynalite keeps its tables there. */
  dynamoPath?: string;
}): Promise<CliBackend> {
  if (endpoint !== undefined) {
    const serve = await probeServe(endpoint);
    const info: BackendInfo = {
      kind: BackendKinds.LOCALSTACK,
      endpoints: { sqs: endpoint, s3: endpoint, dynamodb: endpoint, events: endpoint },
      region: region ?? 'us-east-1',
      description: `the endpoint ${endpoint} (SQS, S3, DynamoDB and EventBridge${serve ? ', a bounded-fanout serve' : ''})`,
    };
    log(`[bounded-fanout] backend: ${info.description}`);
    return { info, ...(serve ? { serve } : {}), stop: async () => {} };
  }
  const backend: Backend = await startBackend({
    kind: BackendKinds.EMULATORS,
    region,
    log,
    edge: { listen },
    dynamoPath,
  });
  return { info: backend, stop: () => backend.stop() };
}

/**
 * The stack a `bounded-fanout serve` or `run` at `endpoint` serves (its health route): its prefix and the config it
 * runs under (unchecked: see served-config.ts), or undefined for anything else.
 */
export async function probeServe(
  endpoint: string,
): Promise<{ prefix: string; config?: unknown } | undefined> {
  try {
    const response = await fetch(new URL(EDGE_HEALTH_PATH, endpoint), { signal: AbortSignal.timeout(2_000) });
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    const body = (await response.json()) as { service?: unknown; prefix?: unknown; config?: unknown };
    if (body.service !== EDGE_SERVICE_NAME || typeof body.prefix !== 'string') return undefined;
    return { prefix: body.prefix, ...(body.config === undefined ? {} : { config: body.config }) };
  } catch {
    // Not a serve (LocalStack answers 404 or an S3 error; an endpoint that is down is reported by its first use).
    return undefined;
  }
}

/** Creates the stack's resources (as the runtime would) and uploads the manifest; returns its s3:// URI. */
export async function uploadManifest(
  config: FanoutConfig,
  backend: BackendInfo,
  file: string,
  objectName: string,
  { partBytes = PART_BYTES }: { partBytes?: number } = {},
): Promise<string> {
  const resources = await createResources(config, backend).catch((error) => {
    throw asEndpointError(backend.endpoints.sqs, error);
  });
  const key = `${config.manifestsPrefix}${objectName}`;
  // The format the CLI checked the file as, so the orchestrator reads it the same way (format.ts).
  const contentType = contentTypeOf(await manifestFileFormat(file));
  const uri = `s3://${resources.bucket}/${key}`;
  const { edge } = backend;
  // Not with --endpoint or LocalStack: that S3 is another process's, which reads what is put into it.
  if (edge && backend.endpoints.s3 === edge.url) {
    await edge.diskObjects.register(resources.bucket, key, file, { contentType });
    return uri;
  }
  const s3 = new S3Client({
    endpoint: backend.endpoints.s3,
    region: backend.region,
    credentials: localCredentials,
    forcePathStyle: true,
  });
  try {
    const { size } = await stat(file);
    if (size <= partBytes) {
      await s3.send(
        new PutObjectCommand({
          Bucket: resources.bucket,
          Key: key,
          Body: createReadStream(file),
          ContentLength: size,
          ContentType: contentType,
        }),
      );
    } else {
      await uploadInParts(s3, { bucket: resources.bucket, key, file, size, partBytes, contentType });
    }
  } finally {
    s3.destroy();
  }
  return uri;
}

/** Part size of a multipart upload: S3 takes 5 MiB and up; the embedded emulator takes requests up to 11 MiB. */
export const PART_BYTES = 8 * 1024 * 1024;

/** A large manifest goes up in parts, one part in memory at a time (a million tasks is about 60 MB). */
async function uploadInParts(
  s3: S3Client,
  {
    bucket,
    key,
    file,
    size,
    partBytes,
    contentType,
  }: { bucket: string; key: string; file: string; size: number; partBytes: number; contentType: string },
): Promise<void> {
  const { UploadId } = await s3.send(
    new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: contentType }),
  );
  const handle = await open(file, 'r');
  try {
    const parts: { ETag?: string; PartNumber: number }[] = [];
    const buffer = Buffer.alloc(partBytes);
    for (let offset = 0, part = 1; offset < size; offset += partBytes, part++) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(partBytes, size - offset), offset);
      const { ETag } = await s3.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          PartNumber: part,
          Body: buffer.subarray(0, bytesRead),
          ContentLength: bytesRead,
        }),
      );
      parts.push({ ETag, PartNumber: part });
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  } catch (error) {
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => {});
    throw error;
  } finally {
    await handle.close();
  }
}
