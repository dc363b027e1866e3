// The optional `vpc` setting: the subnets and security groups both functions run in, given as ids (the stack
// imports them without lookups, so `cdk synth` stays offline). Checked with the rest of the config: every
// problem (no subnet, an id of the wrong shape) is named in the one error validateBudget throws.
import { z } from 'zod';

/**
 * Where both functions run when they must reach private partners. A function in a VPC has no internet and no
 * AWS endpoints of its own: the subnets need a NAT gateway (or VPC endpoints) for SQS, S3, DynamoDB,
 * EventBridge (the run-finished event), Lambda (the orchestrator invokes the worker and itself) and
 * CloudWatch Logs, or the functions time out on their first AWS call. The stack creates none of them: the
 * VPC is yours, imported by id, and how it reaches AWS (one NAT, or interface endpoints plus the free
 * gateway endpoints for S3 and DynamoDB) is a choice for its owner.
 */
export interface VpcConfig {
  /** `vpc-...`: the VPC the subnets are in. */
  readonly vpcId: string;
  /** `subnet-...`, at least one; two or more in different availability zones for Lambda's high availability. */
  readonly subnetIds: readonly string[];
  /** `sg-...`, at least one: the functions' outbound rules (partners, the NAT or the endpoints). */
  readonly securityGroupIds: readonly string[];
}

const id = (prefix: string, what: string) =>
  z
    .string({ error: 'is not a string' })
    .regex(new RegExp(`^${prefix}-[0-9a-f]{8}([0-9a-f]{9})?$`), `is not a ${what} id (${prefix}-xxxxxxxx)`);

const ids = (prefix: string, what: string) =>
  z
    .array(id(prefix, what), { error: 'is not an array' })
    .min(1, `is empty: give at least one ${what} id (${prefix}-xxxxxxxx)`);

export const vpcSchema = z.strictObject(
  {
    vpcId: id('vpc', 'VPC'),
    subnetIds: ids('subnet', 'subnet'),
    securityGroupIds: ids('sg', 'security group'),
  },
  { error: 'is not an object' },
);
