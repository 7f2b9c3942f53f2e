// Types of build/bpf2ts.mjs, for the tests that call it.
export interface BtfStruct { size: number; fields: Record<string, { offset: number; size: number }> }
export declare function readBtf(objectPath: string): {
  structs: Record<string, BtfStruct>;
  enums: Record<string, Record<string, number>>;
  funcs: string[];
  maps: string[];
};
export declare function generate(opt: {
  object: string; bytes: Uint8Array; sourceSha256: string; vmlinuxSha256: string; objectPath: string;
}): string;
