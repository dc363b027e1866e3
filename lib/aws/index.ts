// The AWS side of the library: SDK clients on bounded sockets, SendMessageBatch with resends, the S3 manifest
// reader, the result writer and the job ledger's DynamoDB store. The only folder of lib/ that imports the AWS
// SDK.
export * from './clients.js';
export * from './enqueue.js';
export * from './job-ledger-table.js';
export * from './results.js';
export * from './s3-manifest.js';
