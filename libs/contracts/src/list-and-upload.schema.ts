import { z } from 'zod';
import { EDIT_STATUSES } from './edit-object';

export const LIST_LIMITS = { min: 1, max: 100, default: 20 } as const;

/** Query of GET /v1/edits: `status` is a comma-separated subset of the statuses; `cursor` is opaque. */
export const listEditsQuerySchema = z.strictObject({
  status: z
    .string()
    .optional()
    .transform((value) => (value === undefined || value === '' ? [] : value.split(',').map((s) => s.trim())))
    .pipe(z.array(z.enum(EDIT_STATUSES))),
  limit: z
    .string()
    .regex(/^\d+$/, 'must be an integer')
    .optional()
    .transform((value) => (value === undefined ? LIST_LIMITS.default : Number(value)))
    .pipe(z.int().min(LIST_LIMITS.min).max(LIST_LIMITS.max)),
  cursor: z.string().min(1).max(512).optional(),
});
export type ListEditsQuery = z.output<typeof listEditsQuerySchema>;

/** Image types an upload may declare; the bytes are still decoded and checked when the edit is created. */
export const UPLOAD_CONTENT_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif', 'image/tiff'] as const;

/** Body of POST /v1/uploads. The size cap (413) is configuration, checked by the service. */
export const uploadRequestSchema = z.strictObject({
  content_type: z.enum(UPLOAD_CONTENT_TYPES),
  size: z.int().min(1),
});
export type UploadRequest = z.output<typeof uploadRequestSchema>;

export interface UploadTicket {
  image_key: string;
  upload_url: string;
  method: 'PUT';
  headers: Record<string, string>;
  expires_at: string;
}

export interface EditList<T> {
  data: T[];
  next_cursor: string | null;
}
