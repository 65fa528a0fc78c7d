import { DefaultFailureConverter } from '@temporalio/common';

/**
 * Failure messages and stack traces travel as an encoded payload, so the payload codec encrypts
 * them like any other payload (an error message could quote a patient's details).
 *
 * Loaded by path (`failureConverterPath`): workers and clients require it, and the workflow
 * bundle compiles it into the sandbox, so this file may import nothing but @temporalio/common.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
