/** RFC 9457 problem details. Every error response of the API is one of these. */
export interface FieldError {
  field: string;
  message: string;
}

export const PROBLEM_BASE = 'https://clinic-backend.dev/problems';

export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail?: string,
    readonly errors?: FieldError[],
    readonly headers?: Record<string, string>,
  ) {
    super(detail ?? title);
  }

  get type(): string {
    return `${PROBLEM_BASE}/${this.code}`;
  }

  toJSON() {
    return { type: this.type, title: this.title, status: this.status, ...(this.detail ? { detail: this.detail } : {}), ...(this.errors ? { errors: this.errors } : {}) };
  }
}

export const problems = {
  validation: (errors: FieldError[]) => new Problem(400, 'validation-error', 'Request is invalid', errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors),
  badRequest: (detail: string) => new Problem(400, 'bad-request', 'Bad request', detail),
  unauthorized: (detail = 'A valid bearer token is required') => new Problem(401, 'unauthorized', 'Unauthorized', detail, undefined, { 'WWW-Authenticate': 'Bearer' }),
  forbidden: (detail = 'You are not allowed to do this') => new Problem(403, 'forbidden', 'Forbidden', detail),
  notFound: (what = 'Resource') => new Problem(404, 'not-found', 'Not found', `${what} not found`),
  conflict: (code: string, detail: string) => new Problem(409, code, 'Conflict', detail),
  slotTaken: (detail = 'The requested time overlaps another appointment of the practitioner, the room or a therapist') => new Problem(409, 'slot-taken', 'Slot taken', detail),
  unprocessable: (code: string, detail: string, errors?: FieldError[]) => new Problem(422, code, 'Unprocessable request', detail, errors),
  payloadTooLarge: () => new Problem(413, 'payload-too-large', 'Payload too large'),
  unavailable: (detail: string) => new Problem(503, 'service-unavailable', 'Service unavailable', detail, undefined, { 'Retry-After': '5' }),
};
