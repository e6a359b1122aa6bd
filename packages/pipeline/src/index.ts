export * from "./placement";
export * from "./segments";
