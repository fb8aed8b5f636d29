import { ApiError, ErrorCode, type EditRecord } from '@step1x/contracts';
import type { EditRepository } from '@step1x/edit-store';

/**
 * The caller's edit, or 404 `not_found`: another tenant's edit is answered exactly like one that does not exist
 * (CONTRACT.md "Auth and tenants"). Every route under /v1/edits/{id} starts here.
 */
export async function tenantEditOrNotFound(
  edits: Pick<EditRepository, 'getForTenant'>,
  tenantId: string,
  editId: string,
): Promise<EditRecord> {
  const record = await edits.getForTenant(tenantId, editId);
  if (!record) throw new ApiError(ErrorCode.NotFound, `no edit ${editId}`, { param: 'id' });
  return record;
}
