import { defineConfig } from "prisma/config";

// Paths are relative to this file; the schema and migrations live at the repository root.
export default defineConfig({
  schema: "../../prisma/schema.prisma",
  migrations: { path: "../../prisma/migrations" },
  datasource: {
    url: process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/edgefleet",
  },
});
