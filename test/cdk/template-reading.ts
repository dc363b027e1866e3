// Reading a synthesized template by shape, for the grant tests: the one resource of a type whose logical id
// holds a path part, and every IAM statement on a function's role.
import type { Template } from 'aws-cdk-lib/assertions';
import { expect } from 'vitest';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON, read by shape in each assertion
export type Json = Record<string, any>;

/** The logical id of the one resource of `type` whose id holds `pathPart` (fails the test if not exactly one). */
export function logicalIdOf(template: Template, type: string, pathPart: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.includes(pathPart));
  expect(ids, `${type} ${pathPart}`).toHaveLength(1);
  return ids[0];
}

/** The properties of the one Lambda function whose logical id holds `part`. */
export function functionProperties(template: Template, part: string): Json {
  return template.toJSON().Resources[logicalIdOf(template, 'AWS::Lambda::Function', part)].Properties;
}

/** Every statement of every policy attached to that function's role. */
export function roleStatements(template: Template, functionPart: string): Json[] {
  const role = functionProperties(template, functionPart).Role['Fn::GetAtt'][0];
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => policy.Properties.Roles.some((r: { Ref: string }) => r.Ref === role))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Json[]);
}
