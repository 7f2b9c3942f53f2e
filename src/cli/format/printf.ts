// The few printf conversions the C tools use, so layouts can be written like their format strings.

/** `%12u` */
export const u12 = (n: number): string => String(n).padStart(12);
/** `%20llu` */
export const u20 = (n: number): string => String(n).padStart(20);
/** `%-Ns` */
export const left = (s: string, width: number): string => s.padEnd(width);
