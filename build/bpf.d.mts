// Types of build/bpf.mjs, for the tests that call it.
export declare const BPF_DIR: string;
export declare const OBJECT_NAME: string;
export declare const GEN_TS: string;
export declare function sourceFiles(): string[];
export declare function sourceHash(base?: string): string;
export declare function toolsAvailable(): boolean;
export declare function vmlinuxHeader(): { dir: string; file: string; sha256: string };
export declare function buildObject(): { bytes: Uint8Array; vmlinuxSha256: string };
export declare function build(outDir?: string): { objPath: string; tsPath: string; size: number; sha256: string };
