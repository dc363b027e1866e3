// Is a container runtime answering? Checked in about a second, BEFORE testcontainers is imported: it hangs
// (for minutes) on a DOCKER_HOST that accepts connections and never answers. Each candidate gets one
// connect plus `GET /_ping` with a 1 s budget, all candidates at once.
import { existsSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';

export interface ContainerRuntime {
  /** As DOCKER_HOST spells it: `unix:///var/run/docker.sock`, `tcp://host:2375`. */
  readonly dockerHost: string;
}

export interface ProbeResult {
  readonly runtime?: ContainerRuntime;
  /** Each candidate and why it was not taken. */
  readonly tried: readonly string[];
}

export const PROBE_TIMEOUT_MS = 1_000;

/** DOCKER_HOST when set, else the usual sockets of Docker, rootless Docker, Docker Desktop, Colima, Podman. */
export function candidateHosts(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.DOCKER_HOST) return [env.DOCKER_HOST];
  const home = homedir();
  const runtimeDir = env.XDG_RUNTIME_DIR ?? `/run/user/${safeUid()}`;
  const sockets = [
    '/var/run/docker.sock',
    join(runtimeDir, 'docker.sock'),
    join(home, '.docker', 'run', 'docker.sock'),
    join(home, '.docker', 'desktop', 'docker.sock'),
    join(home, '.colima', 'default', 'docker.sock'),
    join(home, '.rd', 'docker.sock'),
    join(runtimeDir, 'podman', 'podman.sock'),
    '/run/podman/podman.sock',
  ];
  return [...new Set(sockets)].filter((path) => existsSync(path)).map((path) => `unix://${path}`);
}

export async function probeContainerRuntime(
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<ProbeResult> {
  const hosts = candidateHosts(env);
  if (hosts.length === 0) return { tried: ['no DOCKER_HOST and no container runtime socket found'] };
  const outcomes = await Promise.all(hosts.map((host) => ping(host, env, timeoutMs)));
  const index = outcomes.indexOf('ok');
  return {
    runtime: index >= 0 ? { dockerHost: hosts[index] } : undefined,
    tried: hosts.map((host, i) => `${host}: ${outcomes[i]}`),
  };
}

/** 'ok' when `GET /_ping` answers 200 within the budget, else why not. */
function ping(dockerHost: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  let url: URL;
  try {
    url = new URL(dockerHost);
  } catch {
    return Promise.resolve('not a URL');
  }
  const tls = url.protocol === 'tcp:' && Boolean(env.DOCKER_TLS_VERIFY) && env.DOCKER_TLS_VERIFY !== '0';
  const target =
    url.protocol === 'unix:'
      ? { socketPath: url.pathname, path: '/_ping' }
      : url.protocol === 'tcp:' || url.protocol === 'http:'
        ? { host: url.hostname, port: Number(url.port || 2375), path: '/_ping' }
        : undefined;
  if (!target) return Promise.resolve(`unsupported scheme ${url.protocol}`);
  return new Promise((resolve) => {
    const options = {
      ...target,
      method: 'GET',
      headers: { host: 'docker' },
      ...(tls ? tlsOptions(env) : {}),
    };
    const req = (tls ? httpsRequest : httpRequest)(options, (res) => {
      res.resume();
      clearTimeout(timer);
      req.destroy();
      resolve(res.statusCode === 200 ? 'ok' : `answered ${res.statusCode}`);
    });
    // One budget for connect and answer together: a socket that accepts and never answers fails here.
    const timer = setTimeout(() => {
      req.destroy();
      resolve(`no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code ?? error.message);
    });
    req.end();
  });
}

function tlsOptions(env: NodeJS.ProcessEnv) {
  const dir = env.DOCKER_CERT_PATH ?? join(homedir(), '.docker');
  const read = (name: string) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name)) : undefined);
  return { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') };
}

function safeUid(): number | string {
  try {
    return userInfo().uid;
  } catch {
    return 'unknown';
  }
}
