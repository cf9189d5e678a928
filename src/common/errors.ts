// Errors are values: a stable code for programs, the file concerned, and one sentence for people.
// The CLI prints `message`; the UI shows it in the window. Never throw bare strings across layers.

export type ErrorCode =
  | 'BAD_ARGUMENT'
  | 'NOT_FOUND'
  | 'NO_PROJECT'
  | 'IMAGE_DECODE'
  | 'IMAGE_TOO_LARGE'
  | 'NOT_AN_IMAGE'
  | 'UNREADABLE'
  | 'DISK_FULL'
  | 'READ_ONLY'
  | 'COCO_INVALID'
  | 'CSV_INVALID'
  | 'SCHEMA_TOO_NEW'
  | 'PROJECT_CORRUPT'
  | 'NOT_A_PROJECT'
  | 'UNDO_CONFLICT'
  | 'SETTINGS_INVALID'
  | 'MODEL_INVALID'
  | 'MODEL_UNAVAILABLE'
  | 'PROVIDER_FAILED'
  | 'CANCELLED'
  | 'UNSUPPORTED'
  | 'INTERNAL';

export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  file?: string;
  detail?: string;
}

export class PeakLabelError extends Error {
  readonly code: ErrorCode;
  readonly file?: string;
  readonly detail?: string;

  constructor(code: ErrorCode, message: string, opts: { file?: string; detail?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'PeakLabelError';
    this.code = code;
    this.file = opts.file;
    this.detail = opts.detail;
  }

  toInfo(): ErrorInfo {
    return { code: this.code, message: this.message, file: this.file, detail: this.detail };
  }
}

/** Any thrown value as an ErrorInfo; unknown errors keep their message under INTERNAL. */
export function toErrorInfo(err: unknown): ErrorInfo {
  if (err instanceof PeakLabelError) return err.toInfo();
  if (isErrorInfo(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'INTERNAL', message };
}

/**
 * An error met while working on `file`: its file is set, and a message that does not name the file (an
 * unexpected library error such as "Input image exceeds pixel limit") is prefixed with it, so a list of
 * skipped images always says which image each line is about.
 */
export function aboutFile(info: ErrorInfo, file: string): ErrorInfo {
  const name = file.split(/[\\/]/).pop() ?? file;
  const message = info.message.includes(name) ? info.message : `${file}: ${info.message}`;
  return { ...info, file: info.file ?? file, message };
}

export function isErrorInfo(v: unknown): v is ErrorInfo {
  return typeof v === 'object' && v !== null && typeof (v as ErrorInfo).code === 'string' && typeof (v as ErrorInfo).message === 'string';
}

export function fromErrorInfo(info: ErrorInfo): PeakLabelError {
  return new PeakLabelError(info.code, info.message, { file: info.file, detail: info.detail });
}
