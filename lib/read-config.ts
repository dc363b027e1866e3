// The config read from settings given by key, as CDK context and the CLI's flags give them (cdk/context.ts,
// local/cli/shared-config.ts): a value from cdk.json keeps its JSON type, a `-c key=value` string is converted
// by the type of the default, and a group (`schedule`, `secrets`) comes whole or field by field.
import { defaultConfig, type FanoutConfig } from './config.js';

/** Reads one setting by its key: `workerMaxConcurrency`, `schedule.expression`, ... (CDK context, flags). */
export type SettingGetter = (key: string) => unknown;

/** Settings with no default, each with a value of its type (`-c vpc='{...}'` arrives as JSON text). */
const optionalKeys = { alarmTopicArn: '', vpc: {} } as const;

/**
 * Builds the config from settings given by key, as CDK context gives them: values from cdk.json keep their
 * JSON types, values from `-c key=value` arrive as strings and are converted by the type of the default.
 * `schedule` may come whole (an object or JSON) and `schedule.<field>` keys override its fields. A value that
 * does not convert is kept as given, so that validateBudget names it in its error.
 */
export function readConfig(get: SettingGetter): FanoutConfig {
  const config: Record<string, unknown> = { ...defaultConfig };
  const likes: Record<string, unknown> = { ...optionalKeys, ...defaultConfig };
  for (const [key, like] of Object.entries(likes)) {
    if (key === 'schedule' || key === 'secrets') continue;
    const value = get(key);
    if (value === undefined || value === null || value === '') continue;
    config[key] = convert(value, like);
  }
  config.schedule = readGroup(get, 'schedule');
  config.secrets = readGroup(get, 'secrets');
  return config as unknown as FanoutConfig;
}

/** A group of settings (`schedule`, `secrets`): whole (an object or JSON), then `<group>.<field>` keys over it. */
function readGroup(get: SettingGetter, group: 'schedule' | 'secrets'): Record<string, unknown> {
  const base = convert(get(group) ?? {}, {});
  const out: Record<string, unknown> = {
    ...defaultConfig[group],
    ...(typeof base === 'object' && base !== null ? base : {}),
  };
  for (const [key, fallback] of Object.entries(defaultConfig[group])) {
    const value = get(`${group}.${key}`);
    if (value !== undefined && value !== null && value !== '') out[key] = convert(value, fallback);
  }
  return out;
}

/** Converts a string to the type of `like`; anything else, or a string that does not convert, is returned as is. */
function convert(value: unknown, like: unknown): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (typeof like === 'number')
    return /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text) ? Number(text) : value;
  if (typeof like === 'boolean') return text === 'true' ? true : text === 'false' ? false : value;
  if (Array.isArray(like)) {
    if (text.startsWith('[')) return parseJson(text, value);
    return text
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  }
  if (typeof like === 'object' && like !== null) return parseJson(text, value);
  return value;
}

function parseJson(text: string, fallback: unknown): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}
