/** The error codes of docs/protocol.md, plus any a newer server may add. */
export type ErrorCode =
  | "NOT_FOUND"
  | "PERMISSION_DENIED"
  | "UNAUTHORIZED"
  | "ALREADY_EXISTS"
  | "INVALID_REQUEST"
  | "INTERNAL_ERROR"
  | "CONNECTION_LOST"
  | "TIMEOUT"
  | "LIMIT_EXCEEDED"
  | "CONFLICT"
  | (string & {});

/**
 * Every error this package throws: `code` is the protocol's error code (see docs/protocol.md), `message` says what
 * happened in words a person can act on. `CONNECTION_LOST` and `TIMEOUT` are also raised by the client itself.
 */
export class CommyError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "CommyError";
    this.code = code;
  }
}

/** `error` as a CommyError: itself if it is one, else INTERNAL_ERROR with its message. */
export function asCommyError(error: unknown): CommyError {
  if (error instanceof CommyError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new CommyError("INTERNAL_ERROR", message);
}
