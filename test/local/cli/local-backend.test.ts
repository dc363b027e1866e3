// The manifest upload: with the embedded emulators behind the one local endpoint (the CLI's default) it is held
// on disk by the endpoint (local/disk-objects.ts), never put into fauxqs; against an S3 that is not the
// endpoint's own (--endpoint, LocalStack; here: the same backend without its edge) it is put whole when small,
// in parts when large (the emulator refuses requests over 11 MiB, S3 over 5 GiB). Read back byte for byte.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../lib/config.js';
import { type CliBackend, openBackend, uploadManifest } from '../../../local/cli/local-backend.js';
import { localCredentials } from '../../../local/resources.js';

let dir: string;
let backend: CliBackend;
let s3: S3Client;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bf-upload-'));
  backend = await openBackend({ log: () => {} });
  s3 = new S3Client({
    endpoint: backend.info.endpoints.s3,
    region: backend.info.region,
    credentials: localCredentials,
    forcePathStyle: true,
  });
});

afterAll(async () => {
  s3?.destroy();
  await backend?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function readBack(uri: string): Promise<string> {
  const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri) ?? [];
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await out.Body?.transformToString()) ?? '';
}

describe('uploadManifest', () => {
  it('serves the manifest from a copy on disk through the one endpoint: nothing goes into the emulator', async () => {
    const file = join(dir, 'disk.ndjson');
    const lines = Array.from({ length: 50_000 }, (_, i) =>
      JSON.stringify({ id: `t${i}`, url: `https://example.com/${i}` }),
    );
    await writeFile(file, `${lines.join('\n')}\n`);
    const uri = await uploadManifest(defaultConfig, backend.info, file, 'disk.ndjson', {
      partBytes: 5 * 1024 * 1024,
    });
    const key = `${defaultConfig.manifestsPrefix}disk.ndjson`;
    expect(uri).toBe(`s3://${defaultConfig.prefix}-data/${key}`);
    const held = backend.info.edge?.diskObjects.get(`${defaultConfig.prefix}-data`, key);
    expect(held?.contentType).toBe('application/x-ndjson');
    expect(held?.file).not.toBe(file);
    expect(await readBack(uri)).toBe(await readFile(file, 'utf8'));
  });

  it.each([
    // S3 (and the emulator) take parts of 5 MiB and up, the last excepted.
    ['whole', 1_000, 5 * 1024 * 1024, 'small.ndjson'],
    ['in parts', 200_000, 5 * 1024 * 1024, 'large.ndjson'],
  ])('puts a manifest in the stack bucket %s, byte for byte', async (_how, tasks, partBytes, name) => {
    const file = join(dir, name);
    const lines = Array.from({ length: tasks }, (_, i) =>
      JSON.stringify({ id: `t${i}`, url: `https://example.com/${i}` }),
    );
    await writeFile(file, `${lines.join('\n')}\n`);
    const elsewhere = { ...backend.info, edge: undefined };
    const uri = await uploadManifest(defaultConfig, elsewhere, file, name, { partBytes });
    expect(uri).toBe(`s3://${defaultConfig.prefix}-data/${defaultConfig.manifestsPrefix}${name}`);
    const content = await readFile(file, 'utf8');
    expect(content.length > partBytes).toBe(tasks > 1_000);
    expect(await readBack(uri)).toBe(content);
    expect(
      backend.info.edge?.diskObjects.get(
        `${defaultConfig.prefix}-data`,
        `${defaultConfig.manifestsPrefix}${name}`,
      ),
    ).toBeUndefined();
  });
});
