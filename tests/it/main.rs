mod placeholder {}
mod export;
