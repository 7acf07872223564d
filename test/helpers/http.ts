/** A raw GET to a control API with a Host header of the test's choosing (fetch always sends its own). */
import { request } from 'node:http';

export function getWithHost(o: {
  port: number | string;
  path: string;
  host: string;
  token: string;
}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: o.port,
        path: o.path,
        headers: { host: o.host, authorization: `Bearer ${o.token}` },
      },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
