import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createObjectStorage } from '@insta/infra';
import { ObjectsRepository } from '../src/objects.repository.ts';
import { checkDeclaredUpload, uploadMismatch } from '../src/upload-policy.ts';

const SECRET = 'test-secret-access-key';
const REGION = 'eu-west-3';
const storage = createObjectStorage({
  S3_ENDPOINT: 'http://s3.example.test',
  S3_REGION: REGION,
  S3_BUCKET: 'media-bucket',
  S3_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  S3_SECRET_ACCESS_KEY: SECRET,
});

const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/**
 * Checks a POST form's signature as S3 does, independently of the AWS SDK: SigV4 of the Policy field as sent,
 * with the signing key derived from the secret for the credential's date and region.
 */
function verifies(fields: Record<string, string>): boolean {
  const [accessKeyId, shortDate, region, service, terminator] = fields['X-Amz-Credential']!.split('/');
  if (accessKeyId !== 'AKIDEXAMPLE' || region !== REGION || service !== 's3' || terminator !== 'aws4_request') return false;
  if (fields['X-Amz-Algorithm'] !== 'AWS4-HMAC-SHA256' || !fields['X-Amz-Date']!.startsWith(shortDate!)) return false;
  const key = [region, service, terminator].reduce<Buffer>((k, part) => hmac(k, part), hmac(`AWS4${SECRET}`, shortDate!));
  return hmac(key, fields.Policy!).toString('hex') === fields['X-Amz-Signature'];
}

type Policy = { expiration: string; conditions: unknown[] };
const decodePolicy = (fields: Record<string, string>) => JSON.parse(Buffer.from(fields.Policy!, 'base64').toString('utf8')) as Policy;

describe('pre-signed upload policy', () => {
  it('should sign a policy that pins the key, the content type and the declared size, expiring in minutes', async () => {
    const objects = new ObjectsRepository(storage, undefined);
    const before = Date.now();
    const upload = await objects.presignUpload('originals/u/abc', 'image/jpeg', 123_456, 600);
    const fields = upload.fields;

    expect(fields['X-Amz-Credential']).toBe(`AKIDEXAMPLE/${fields['X-Amz-Date']!.slice(0, 8)}/${REGION}/s3/aws4_request`);
    expect(verifies(fields)).toBe(true);

    const policy = decodePolicy(fields);
    expect(policy.conditions).toContainEqual(['content-length-range', 1, 123_456]);
    expect(policy.conditions).toContainEqual(['eq', '$Content-Type', 'image/jpeg']);
    expect(policy.conditions).toContainEqual({ key: 'originals/u/abc' });
    expect(policy.conditions).toContainEqual({ bucket: 'media-bucket' });
    expect(policy.conditions.some((c) => Array.isArray(c) && c[0] === 'starts-with')).toBe(false);
    expect(fields.key).toBe('originals/u/abc');
    expect(fields['Content-Type']).toBe('image/jpeg');

    const expiresInS = (Date.parse(policy.expiration) - before) / 1000;
    expect(expiresInS).toBeGreaterThan(590);
    expect(expiresInS).toBeLessThanOrEqual(601);
    expect(upload.expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z')).toBe(policy.expiration);
    expect(upload.url).toBe('http://s3.example.test/media-bucket');
  });

  it('should give a signature that does not verify for the policy with a widened size range', async () => {
    const objects = new ObjectsRepository(storage, undefined);
    const { fields } = await objects.presignUpload('originals/u/abc', 'image/png', 1000, 300);
    const policy = decodePolicy(fields);
    const widened: Policy = {
      ...policy,
      conditions: policy.conditions.map((c) => (Array.isArray(c) && c[0] === 'content-length-range' ? ['content-length-range', 1, 1_000_000_000] : c)),
    };
    expect(widened.conditions).toContainEqual(['content-length-range', 1, 1_000_000_000]);
    const tampered = { ...fields, Policy: Buffer.from(JSON.stringify(widened)).toString('base64') };

    expect(verifies(fields)).toBe(true);
    expect(verifies(tampered)).toBe(false);
  });

  it('should point clients at MEDIA_UPLOAD_URL when one is configured', async () => {
    const objects = new ObjectsRepository(storage, 'https://uploads.example.com/media-bucket');
    expect((await objects.presignUpload('k', 'video/mp4', 10, 60)).url).toBe('https://uploads.example.com/media-bucket');
  });
});

describe('declared uploads', () => {
  const limits = { maxImageBytes: 1000, maxVideoBytes: 5000 };

  it('should accept supported types up to their kind limit, normalizing the type', () => {
    expect(checkDeclaredUpload(' Image/JPEG ', 1000, limits)).toEqual({ ok: true, contentType: 'image/jpeg', kind: 'IMAGE' });
    expect(checkDeclaredUpload('video/quicktime', 5000, limits)).toEqual({ ok: true, contentType: 'video/quicktime', kind: 'VIDEO' });
  });

  it('should reject unsupported types, empty files and files over the limit of their kind', () => {
    expect(checkDeclaredUpload('image/svg+xml', 10, limits)).toMatchObject({ ok: false, field: 'contentType' });
    expect(checkDeclaredUpload('image/png', 0, limits)).toMatchObject({ ok: false, field: 'size' });
    expect(checkDeclaredUpload('image/png', 1001, limits)).toMatchObject({ ok: false, field: 'size', maxBytes: 1000 });
    expect(checkDeclaredUpload('video/webm', 5001, limits)).toMatchObject({ ok: false, field: 'size', maxBytes: 5000 });
  });

  it('should report uploads that are larger than declared or of another type', () => {
    const declared = { contentType: 'video/mp4', size: 100 };
    expect(uploadMismatch(declared, { size: 100, storedContentType: 'video/mp4', detectedType: 'video/mp4' })).toBeNull();
    expect(uploadMismatch(declared, { size: 101, storedContentType: 'video/mp4', detectedType: 'video/mp4' })).toBe('SIZE_MISMATCH');
    expect(uploadMismatch(declared, { size: 50, storedContentType: 'video/mp4', detectedType: 'video/quicktime' })).toBe('TYPE_MISMATCH');
    expect(uploadMismatch(declared, { size: 50, storedContentType: 'video/mp4', detectedType: undefined })).toBe('TYPE_MISMATCH');
    expect(uploadMismatch(declared, { size: 50, storedContentType: 'text/html', detectedType: 'video/mp4' })).toBe('TYPE_MISMATCH');
  });
});
