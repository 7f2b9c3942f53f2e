// placeholder replaced by the failover work
export async function demo(_argv: string[]): Promise<number> {
  throw new Error('ctsync demo is not available in this build');
}
