// Types of cli-bundle.mjs (plain JavaScript: it runs before the module hooks that let node load TypeScript).
export declare const BUNDLE_DIR: URL;
export declare function bundleOff(env?: NodeJS.ProcessEnv): boolean;
export declare function freshBundle(options?: { out?: URL }): { base: URL; main: URL } | undefined;
export declare function buildInBackground(): void;
export declare function buildBundle(options?: { out?: URL }): Promise<boolean>;
export declare function withSourceUrls(source: string, path: string): string;
export declare function markInUse(base: URL): void;
