#!/usr/bin/env node
// No build step in this repo: run the TypeScript entry through tsx's loader.
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
