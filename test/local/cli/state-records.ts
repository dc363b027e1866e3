// What a killed run's state directory (`run --state DIR`) says had succeeded: read from its DynamoDB store
// with the emulators started on it, as the resume will find it.
import { DynamoDBClient, paginateScan } from '@aws-sdk/client-dynamodb';
import { resourceNames, withDefaults } from '../../../lib/config.js';
import { startEmulators } from '../../../local/emulators.js';

/**
 * The tasks that had succeeded when the process died, as the run itself knows it: their idempotency records
 * COMPLETED in the state directory's DynamoDB store (the stored outcome names the task). A request the server
 * answered but whose answer the killed worker never read is not among them: that task had not succeeded.
 */
export async function completedBeforeKill(dynamoPath: string): Promise<Set<string>> {
  const emulators = await startEmulators({ dynamoPath });
  const db = new DynamoDBClient({
    endpoint: emulators.endpoints.dynamodb,
    region: emulators.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const ids = new Set<string>();
  try {
    const TableName = resourceNames(withDefaults({})).idempotencyTable;
    for await (const page of paginateScan({ client: db }, { TableName })) {
      for (const item of page.Items ?? []) {
        // A task's record keeps its outcome ({ id, ok, status... }); a message's or a segment's has none such.
        const outcome = item.data?.M;
        if (item.status?.S === 'COMPLETED' && outcome?.ok?.BOOL === true && outcome.id?.S)
          ids.add(outcome.id.S);
      }
    }
  } finally {
    db.destroy();
    await emulators.stop();
  }
  return ids;
}
