// placeholder replaced by the observability work
export async function top(_socket: string): Promise<number> {
  throw new Error('ctsync top is not available in this build');
}
