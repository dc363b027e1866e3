// dynalite ships no types: the part of its API the local runtime uses.
declare module 'dynalite' {
  import type { Server } from 'node:http';

  interface DynaliteOptions {
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
    path?: string;
  }
  function dynalite(options?: DynaliteOptions): Server;
  export default dynalite;
}
