// The `vpc` option: both functions in the configured subnets with the configured security groups, imported by
// id (no lookups), and every problem of the option named in the one error the config check throws.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BudgetError, validateBudget } from '../../lib/budget/budget.js';
import { withDefaults } from '../../lib/config.js';
import { readConfig } from '../../lib/read-config.js';
import { type Synthesized, synthesize } from './synthesize.js';

const vpc = {
  vpcId: 'vpc-0a1b2c3d4e5f60718',
  subnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
  securityGroupIds: ['sg-0aaaabbbbccccdddd'],
};

describe('the vpc option', () => {
  let synth: Synthesized;
  beforeAll(() => {
    synth = synthesize(withDefaults({ prefix: 'private', vpc }));
  });
  afterAll(() => synth?.dispose());

  it('puts both functions in the subnets with the security groups, and nothing else in the VPC', () => {
    const functions = Object.values(synth.template.findResources('AWS::Lambda::Function'));
    expect(functions.map((f) => f.Properties.FunctionName).sort()).toEqual([
      'private-orchestrator',
      'private-worker',
    ]);
    for (const fn of functions) {
      expect(fn.Properties.VpcConfig).toEqual({
        SubnetIds: vpc.subnetIds,
        SecurityGroupIds: vpc.securityGroupIds,
      });
    }
    // Imported, not created: no security group, endpoint or NAT of the stack's own.
    synth.template.resourceCountIs('AWS::EC2::SecurityGroup', 0);
    synth.template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    synth.template.resourceCountIs('AWS::EC2::NatGateway', 0);
  });

  it('gives the roles the network-interface actions Lambda needs in a VPC, and passes cdk-nag', () => {
    const roles = Object.values(synth.template.findResources('AWS::IAM::Role'));
    const managed = roles.flatMap((r) => JSON.stringify(r.Properties.ManagedPolicyArns ?? []));
    expect(managed.filter((arns) => arns.includes('AWSLambdaVPCAccessExecutionRole'))).toHaveLength(2);
    const nag = synth.report.pluginReports.find((r) => r.pluginName.includes('AwsSolutions'));
    expect(nag?.conclusion).toBe('success');
  });

  it('is off by default: the functions have no VpcConfig', () => {
    const plain = synthesize(withDefaults({ prefix: 'public' }));
    try {
      for (const fn of Object.values(plain.template.findResources('AWS::Lambda::Function'))) {
        expect(fn.Properties.VpcConfig).toBeUndefined();
      }
    } finally {
      plain.dispose();
    }
  });

  it('is read from CDK context as JSON text (`-c vpc=...`)', () => {
    const config = readConfig((key) => (key === 'vpc' ? JSON.stringify(vpc) : undefined));
    expect(config.vpc).toEqual(vpc);
  });

  it('names every problem at once: no subnet, ids of the wrong shape, an unknown field', () => {
    let error: unknown;
    try {
      validateBudget(
        withDefaults({
          vpc: {
            vpcId: 'my-vpc',
            subnetIds: [],
            securityGroupIds: ['sg-12345678', 'subnet-0123456789abcdef0'],
            natGateway: true,
          } as never,
        }),
      );
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(BudgetError);
    const problems = (error as BudgetError).problems.map(
      (p) => `${p.path}: ${JSON.stringify(p.value)} ${p.message}`,
    );
    expect(problems).toEqual([
      'vpc.vpcId: "my-vpc" is not a VPC id (vpc-xxxxxxxx)',
      'vpc.subnetIds: [] is empty: give at least one subnet id (subnet-xxxxxxxx)',
      'vpc.securityGroupIds[1]: "subnet-0123456789abcdef0" is not a security group id (sg-xxxxxxxx)',
      'vpc: {"vpcId":"my-vpc","subnetIds":[],"securityGroupIds":["sg-12345678","subnet-0123456789abcdef0"],"natGateway":true} has unknown field natGateway',
    ]);
  });
});
