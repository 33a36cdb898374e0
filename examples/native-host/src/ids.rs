//! Sealed video ids: the only file that calls core's sealing API, so moving
//! to another sealing module touches nothing else.

use reelay_core::errors::ClientError;
use reelay_core::seal::{owner_of, Keys, Owner, Purpose, Sealed, OWNER_LEN};
use reelay_core::video::VideoHandle;

/// What a video id carries.
pub(crate) struct VideoId {
    pub(crate) owner: [u8; OWNER_LEN],
    pub(crate) created_at_ms: u64,
    pub(crate) deployment: String,
    pub(crate) handle: VideoHandle,
}

/// Seals and opens video ids under the gateway's sealing secret.
pub(crate) struct Ids(Keys);

impl Ids {
    pub(crate) fn new(sealing_key: &[u8]) -> Option<Self> {
        Keys::derive(sealing_key).map(Self)
    }

    /// The owner fingerprint of the key with SHA-256 `key_hash`.
    pub(crate) fn owner(key_hash: &[u8; 32]) -> [u8; OWNER_LEN] {
        owner_of(key_hash)
    }

    pub(crate) fn seal(&self, id: &VideoId) -> Result<String, ClientError> {
        self.0
            .seal_id(&Sealed {
                purpose: Purpose::Video,
                owner: Owner::key(id.owner),
                created_at_ms: id.created_at_ms,
                deployment: id.deployment.clone(),
                payload: id.handle.encode(),
            })
            .map_err(|e| e.to_client(Purpose::Video))
    }

    /// `None` for anything forged, tampered, malformed or not a video id.
    pub(crate) fn open(&self, id: &str) -> Option<VideoId> {
        let sealed = self.0.open_id(Purpose::Video, id).ok()?;
        Some(VideoId {
            owner: sealed.owner.key,
            created_at_ms: sealed.created_at_ms,
            handle: VideoHandle::decode(&sealed.payload)?,
            deployment: sealed.deployment,
        })
    }
}
