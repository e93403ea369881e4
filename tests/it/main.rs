mod placeholder {}
mod classify;
