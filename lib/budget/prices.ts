// The published AWS list prices planBudget uses, in one place with their date, region and architecture, so a
// price change is one edit here. On-demand list prices of the first tier, before any free tier or savings plan.

export const awsPrices = {
  /** When these figures were last compared with AWS's pricing pages. */
  checkedOn: '2026-11-25',
  region: 'us-east-1',
  architecture: 'arm64',
  currency: 'USD',
  lambda: {
    /** Arm price of the first tier (the first 7.5 billion GB-seconds a month). */
    usdPerGbSecond: 0.0000133334,
    usdPerMillionRequests: 0.2,
  },
  sqs: {
    /** Standard queue, the first 100 billion requests a month. */
    usdPerMillionRequests: 0.4,
    /** Each 64 KiB chunk of a request's payload is billed as one request. */
    billedChunkBytes: 64 * 1024,
  },
  dynamodb: {
    /** On-demand write request units (since the 1 November 2024 price cut). One unit writes up to 1 KB. */
    usdPerMillionWriteUnits: 0.625,
    usdPerMillionReadUnits: 0.125,
    writeUnitBytes: 1024,
    /** A strongly consistent read of up to 4 KB is one read unit; a transactional write is 2 units per item. */
    readUnitBytes: 4096,
  },
  eventbridge: {
    /** Custom events put on an event bus (the Run Finished event); each 64 KB chunk is one event. */
    usdPerMillionEvents: 1.0,
  },
  sources: [
    'https://aws.amazon.com/lambda/pricing/',
    'https://aws.amazon.com/sqs/pricing/',
    'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    'https://aws.amazon.com/eventbridge/pricing/',
  ],
} as const;

export type AwsPrices = typeof awsPrices;
