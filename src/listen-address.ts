/** Dex's listen addresses ("0.0.0.0:5556", "[::1]:5556", ":5556") and listening on them. */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** host:port from Dex's listen addresses ("0.0.0.0:5556", "[::1]:5556", ":5556" for every interface). */
export const splitAddress = (address: string): { host: string; port: number } => {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  return { host: host === '' ? '0.0.0.0' : host, port: Number(address.slice(colon + 1)) };
};

export const boundAddress = (server: HttpServer): string => {
  const { address, port } = server.address() as AddressInfo;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
};

export const listenOn = async (server: HttpServer, address: string): Promise<string> => {
  const { host, port } = splitAddress(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return boundAddress(server);
};
