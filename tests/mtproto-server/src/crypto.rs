//! MTProto 2.0 encryption as the *server* does it. grammers-crypto only
//! ships the client's half (it encrypts with x = 0 and decrypts with
//! x = 8, and keeps `calc_key` private), so the key derivation is redone
//! here with the other offsets; AES-IGE is grammers-crypto's own.

use grammers_crypto::aes;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// A 256-byte authorization key and its id.
#[derive(Clone)]
pub struct AuthKey {
    data: [u8; 256],
    pub id: [u8; 8],
}

impl AuthKey {
    pub fn new(data: [u8; 256]) -> AuthKey {
        let sha = Sha1::digest(data);
        let mut id = [0; 8];
        id.copy_from_slice(&sha[12..20]);
        AuthKey { data, id }
    }
}

#[derive(Debug, PartialEq)]
pub enum CryptoError {
    TooShort,
    UnknownKey,
    BadMsgKey,
}

/// x = 0 for client to server, 8 for server to client.
fn kdf(key: &AuthKey, msg_key: &[u8; 16], x: usize) -> ([u8; 32], [u8; 32]) {
    let a = Sha256::new()
        .chain_update(msg_key)
        .chain_update(&key.data[x..x + 36])
        .finalize();
    let b = Sha256::new()
        .chain_update(&key.data[40 + x..40 + x + 36])
        .chain_update(msg_key)
        .finalize();
    let mut aes_key = [0; 32];
    aes_key[0..8].copy_from_slice(&a[0..8]);
    aes_key[8..24].copy_from_slice(&b[8..24]);
    aes_key[24..32].copy_from_slice(&a[24..32]);
    let mut iv = [0; 32];
    iv[0..8].copy_from_slice(&b[0..8]);
    iv[8..24].copy_from_slice(&a[8..24]);
    iv[24..32].copy_from_slice(&b[24..32]);
    (aes_key, iv)
}

fn msg_key(key: &AuthKey, plaintext: &[u8], x: usize) -> [u8; 16] {
    let large = Sha256::new()
        .chain_update(&key.data[88 + x..88 + x + 32])
        .chain_update(plaintext)
        .finalize();
    let mut out = [0; 16];
    out.copy_from_slice(&large[8..24]);
    out
}

/// `packet`: auth_key_id, msg_key, encrypted data (a client's message).
pub fn decrypt_from_client(key: &AuthKey, packet: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if packet.len() < 24 + 32 || !(packet.len() - 24).is_multiple_of(16) {
        return Err(CryptoError::TooShort);
    }
    if packet[..8] != key.id {
        return Err(CryptoError::UnknownKey);
    }
    let mut mk = [0; 16];
    mk.copy_from_slice(&packet[8..24]);
    let (k, iv) = kdf(key, &mk, 0);
    let mut data = packet[24..].to_vec();
    aes::ige_decrypt(&mut data, &k, &iv);
    if msg_key(key, &data, 0) != mk {
        return Err(CryptoError::BadMsgKey);
    }
    Ok(data)
}

/// The server's message `plaintext` (salt, session id, message) as sent.
pub fn encrypt_to_client(key: &AuthKey, mut plaintext: Vec<u8>) -> Vec<u8> {
    // 12 to 1024 bytes of padding, to a multiple of 16.
    let pad = 16 + (16 - plaintext.len() % 16);
    let mut padding = [0u8; 32];
    getrandom::fill(&mut padding).expect("random padding");
    plaintext.extend_from_slice(&padding[..pad]);
    let mk = msg_key(key, &plaintext, 8);
    let (k, iv) = kdf(key, &mk, 8);
    aes::ige_encrypt(&mut plaintext, &k, &iv);
    let mut out = Vec::with_capacity(24 + plaintext.len());
    out.extend_from_slice(&key.id);
    out.extend_from_slice(&mk);
    out.extend_from_slice(&plaintext);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use grammers_crypto::DequeBuffer;

    fn key() -> [u8; 256] {
        std::array::from_fn(|i| (i * 7 + 3) as u8)
    }

    /// The client's own encryption is what the server decrypts, and the
    /// server's is what the client's decryption accepts.
    #[test]
    fn round_trips_with_grammers_client_side() {
        let client = grammers_crypto::AuthKey::from_bytes(key());
        let server = AuthKey::new(key());
        let mut buf = DequeBuffer::with_capacity(64, 32);
        buf.extend(b"0123456789abcdef0123456789abcdef".iter().copied());
        grammers_crypto::encrypt_data_v2(&mut buf, &client);
        let plain = decrypt_from_client(&server, &buf[..]).unwrap();
        assert_eq!(&plain[..32], b"0123456789abcdef0123456789abcdef");

        let mut sent = encrypt_to_client(&server, b"hello, client!!!".to_vec());
        let got = grammers_crypto::decrypt_data_v2(&mut sent, &client).unwrap();
        assert_eq!(&got[..16], b"hello, client!!!");
        // A client message is not accepted as a server one and vice versa.
        assert!(grammers_crypto::decrypt_data_v2(&mut buf[..].to_vec(), &client).is_err());
    }
}
