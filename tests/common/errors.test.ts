// Skipped images are listed by the CLI and the UI one message per line: every line must name its image.
import { describe, expect, it } from 'vitest';
import { aboutFile, PeakLabelError, toErrorInfo } from '../../src/common/errors';

describe('aboutFile', () => {
  it('prefixes a library message that does not name the file, and sets the file', () => {
    const info = aboutFile(toErrorInfo(new Error('Input image exceeds pixel limit')), '/data/scans/huge.tif');
    expect(info).toMatchObject({ code: 'INTERNAL', file: '/data/scans/huge.tif', message: '/data/scans/huge.tif: Input image exceeds pixel limit' });
  });

  it('keeps a message that already names the file (by path or by name) as it is', () => {
    const e = new PeakLabelError('IMAGE_DECODE', 'huge.tif is corrupt or truncated and cannot be decoded.', { file: 'C:\\scans\\huge.tif' });
    expect(aboutFile(e.toInfo(), 'C:\\scans\\huge.tif')).toEqual(e.toInfo());
  });
});
