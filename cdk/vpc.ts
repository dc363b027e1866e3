// The functions' network when the config has `vpc`: the VPC, subnets and security groups imported by id
// (no lookups: `cdk synth` stays offline and deterministic). Without `vpc` the functions run in Lambda's own
// network, as before. The stack adds no NAT gateway and no VPC endpoints: lib/vpc-config.ts says why and
// which services need a way out.
import { Validations } from 'aws-cdk-lib';
import { type ISecurityGroup, type IVpc, SecurityGroup, Subnet, Vpc } from 'aws-cdk-lib/aws-ec2';
import { type IRole, ManagedPolicy } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import type { VpcConfig } from '../lib/config.js';

export interface FunctionNetwork {
  readonly vpc: IVpc;
  readonly vpcSubnets: { readonly subnets: ReturnType<typeof Subnet.fromSubnetId>[] };
  readonly securityGroups: ISecurityGroup[];
}

/** The props both functions take to run in the configured VPC, or none. Built once, shared by both. */
export function functionNetwork(scope: Construct, vpc: VpcConfig | undefined): FunctionNetwork | undefined {
  if (vpc === undefined) return undefined;
  const subnets = vpc.subnetIds.map((id) => Subnet.fromSubnetId(scope, `Subnet-${id}`, id));
  return {
    // Lambda's VpcConfig names subnets and security groups only; the zones are asked of nothing here.
    vpc: Vpc.fromVpcAttributes(scope, 'Vpc', {
      vpcId: vpc.vpcId,
      availabilityZones: subnets.map((_, i) => `zone-${i}`),
    }),
    vpcSubnets: { subnets },
    securityGroups: vpc.securityGroupIds.map((id) =>
      SecurityGroup.fromSecurityGroupId(scope, `SecurityGroup-${id}`, id, { mutable: false }),
    ),
  };
}

/**
 * Lambda creates the function's network interfaces with its role: AWS's managed policy for exactly that
 * (ec2 Create/Describe/Delete/Assign/UnassignNetworkInterface, which take no resource narrower than `*`).
 */
export function grantNetworkInterfaces(role: IRole): void {
  const policy = 'service-role/AWSLambdaVPCAccessExecutionRole';
  role.addManagedPolicy(ManagedPolicy.fromAwsManagedPolicyName(policy));
  Validations.of(role).acknowledge({
    id: `AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${policy}]`,
    reason:
      'The network-interface actions Lambda needs to run a function in a VPC; EC2 scopes them by no resource narrower than *, so an own policy would grant the same.',
  });
}
