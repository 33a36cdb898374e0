//! The per-key video job index: what the gateway stores about each job it
//! started (KV, one record per job), how records are named so a key's jobs
//! list newest-first with a prefix scan, and the OpenAI list query
//! (`after`, `limit`, `order`) over that index.
//!
//! Record names are `video:{owner hex}:{inverted created_at}:{id digest}`:
//! the inverted millisecond timestamp (`9999999999999 - created_at_ms`) makes lexicographic
//! order newest-first, and every part is derivable from the sealed id, so a
//! status poll or an `after=` cursor finds its record without a lookup.
//! A job a browser token created also records its visitor's subject (in
//! the record and in the index entry), and a list by a browser token shows
//! only its subject's jobs ([`IndexEntry::visible_to`]); the key's shows all.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::{invalid, VideoStatus};
use crate::encoding::{hex, sha256};
use crate::errors::{ClientError, ErrorCode};
use crate::quota::{Cost, Outcome, Settlement};
use crate::seal::Owner;

/// Largest `limit` accepted (OpenAI's bound).
pub const MAX_LIST_LIMIT: usize = 100;
/// `limit` when none is given.
pub const DEFAULT_LIST_LIMIT: usize = 20;
const INVERT_BASE: u64 = 9_999_999_999_999;

/// The KV name prefix of all job records of `owner`.
pub fn owner_prefix(owner: &[u8]) -> String {
    format!("video:{}:", hex(owner))
}

/// The KV name of the record of job `id`, created at `created_at_ms` (unix
/// milliseconds) by `owner`.
pub fn record_name(owner: &[u8], created_at_ms: u64, id: &str) -> String {
    let inverted = INVERT_BASE.saturating_sub(created_at_ms);
    format!(
        "{}{inverted:013}:{}",
        owner_prefix(owner),
        hex(&sha256(id.as_bytes())[..8])
    )
}

/// A job's failure as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    /// Stable error code.
    pub code: String,
    /// Message.
    pub message: String,
}

/// What the gateway stores about a job (as the KV value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The sealed id handed to the client.
    pub id: String,
    /// The prompt, as submitted.
    pub prompt: String,
    /// The model group the client asked for.
    pub model: String,
    /// Last status the gateway saw (`queued`, `in_progress`, `completed`, `failed`).
    pub status: String,
    /// The failure, when `status` is `failed`.
    #[serde(default)]
    pub error: Option<JobError>,
    /// Deleted by its owner: hidden from lists, 404 on every route.
    #[serde(default)]
    pub deleted: bool,
    /// The sealed id of the video this one remixes.
    #[serde(default)]
    pub remixed_from: Option<String>,
    /// The quota hold reserved for this job: committed with the real
    /// seconds when it completes, refunded when it fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_hold: Option<String>,
    /// The subject (hex fingerprint) of the visitor whose browser token
    /// created the job; `None` for the key's own jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

impl JobRecord {
    /// Whether the last seen status is final (no need to ask upstream again).
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "failed")
    }

    /// The last seen status.
    pub fn last_status(&self) -> VideoStatus {
        match self.status.as_str() {
            "completed" => VideoStatus::Completed,
            "failed" => {
                let (code, message) = self
                    .error
                    .as_ref()
                    .map(|e| (e.code.as_str(), e.message.clone()))
                    .unwrap_or(("internal_error", String::from("the video job failed")));
                let code = ErrorCode::ALL
                    .iter()
                    .copied()
                    .find(|c| c.as_str() == code)
                    .unwrap_or(ErrorCode::Internal);
                VideoStatus::Failed(ClientError::new(code, message))
            }
            "in_progress" => VideoStatus::InProgress { progress: None },
            _ => VideoStatus::Queued,
        }
    }

    /// Records `status`; returns whether anything changed (worth a write).
    pub fn observe(&mut self, status: &VideoStatus) -> bool {
        let error = match status {
            VideoStatus::Failed(err) => Some(JobError {
                code: err.code.as_str().to_string(),
                message: err.message.clone(),
            }),
            _ => None,
        };
        let changed = self.status != status.as_str() || self.error != error;
        self.status = status.as_str().to_string();
        self.error = error;
        changed
    }

    /// Records `status` like [`observe`](Self::observe) and, when this is
    /// the first time the job is seen finished, says how its quota hold
    /// ends: the real cost (`completed_cost`) for a finished video, nothing
    /// for a failed one. Settling is idempotent, so a second poll that sees
    /// the same end is harmless.
    pub fn observe_end(&mut self, status: &VideoStatus, completed_cost: Cost) -> Observed {
        let was_final = self.is_final();
        let changed = self.observe(status);
        let settle = match (&self.quota_hold, changed && !was_final && self.is_final()) {
            (Some(hold), true) => {
                let outcome = match status {
                    VideoStatus::Completed => Outcome::Done(completed_cost),
                    _ => Outcome::Failed,
                };
                Some((hold.clone(), Settlement::for_outcome(outcome)))
            }
            _ => None,
        };
        Observed { changed, settle }
    }
}

/// What [`JobRecord::observe_end`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The record changed and should be stored again.
    pub changed: bool,
    /// The quota hold to settle, and how.
    pub settle: Option<(String, Settlement)>,
}

/// List order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Oldest first.
    Asc,
    /// Newest first (the default).
    Desc,
}

/// A validated `GET /v1/videos` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Return jobs after this id (in list order).
    pub after: Option<String>,
    /// Page size, 1..=[`MAX_LIST_LIMIT`].
    pub limit: usize,
    /// Order.
    pub order: Order,
}

impl ListQuery {
    /// Parses query pairs; unknown parameters are errors.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ClientError> {
        let mut query = Self {
            after: None,
            limit: DEFAULT_LIST_LIMIT,
            order: Order::Desc,
        };
        for (name, value) in pairs {
            match name {
                "after" if !value.is_empty() => query.after = Some(value.to_string()),
                "after" => {}
                "limit" => {
                    query.limit = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_LIST_LIMIT).contains(n))
                        .ok_or_else(|| {
                            invalid(
                                "limit",
                                format!("`limit` must be an integer in 1..={MAX_LIST_LIMIT}"),
                            )
                        })?;
                }
                "order" => {
                    query.order = match value {
                        "asc" => Order::Asc,
                        "desc" => Order::Desc,
                        _ => return Err(invalid("order", "`order` must be asc or desc")),
                    }
                }
                other => {
                    return Err(invalid(
                        other,
                        format!(
                            "unknown query parameter `{other}` (supported: after, limit, order)"
                        ),
                    ))
                }
            }
        }
        Ok(query)
    }
}

/// One entry of the index as listed from storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// Record name.
    pub name: String,
    /// Marked deleted.
    pub deleted: bool,
    /// The subject (hex fingerprint) of the visitor who created the job;
    /// `None` for the key's own.
    pub subject: Option<String>,
}

impl IndexEntry {
    /// Whether `viewer` (a key, or a browser token's visitor of that key)
    /// lists this job: the key lists all of its jobs, a visitor only its own.
    pub fn visible_to(&self, viewer: &Owner) -> bool {
        match viewer.subject_hex() {
            None => true,
            Some(mine) => self.subject.as_deref() == Some(mine.as_str()),
        }
    }
}

/// The names of one page, and whether more follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<'a> {
    /// Record names in list order.
    pub names: Vec<&'a str>,
    /// More entries follow this page.
    pub has_more: bool,
}

/// Picks one page of the jobs `viewer` may list from a key's index.
/// `entries` must be in storage order (ascending names = newest first);
/// `after_name` is the record name of the `after` job, if any.
pub fn select_page<'a>(
    entries: &'a [IndexEntry],
    viewer: &Owner,
    after_name: Option<&str>,
    limit: usize,
    order: Order,
) -> Page<'a> {
    let live = entries
        .iter()
        .filter(|e| !e.deleted && e.visible_to(viewer))
        .map(|e| e.name.as_str());
    let mut names: Vec<&str> = match (order, after_name) {
        (Order::Desc, None) => live.collect(),
        (Order::Desc, Some(after)) => live.filter(|n| *n > after).collect(),
        (Order::Asc, None) => live.rev().collect(),
        (Order::Asc, Some(after)) => live.rev().filter(|n| *n < after).collect(),
    };
    let has_more = names.len() > limit;
    names.truncate(limit);
    Page { names, has_more }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_newest_first_and_share_the_owner_prefix() {
        let owner = [7u8; 16];
        let old = record_name(&owner, 1_700_000_000_000, "video_a");
        let new = record_name(&owner, 1_700_000_000_001, "video_b");
        assert!(new < old);
        assert!(old.starts_with(&owner_prefix(&owner)));
        assert_eq!(
            record_name(&owner, 1_700_000_000_000, "video_a"),
            old,
            "derivable from the id alone"
        );
    }

    fn record(hold: Option<&str>) -> JobRecord {
        JobRecord {
            id: "video_x".into(),
            prompt: "p".into(),
            model: "veo".into(),
            status: "queued".into(),
            error: None,
            deleted: false,
            remixed_from: None,
            quota_hold: hold.map(Into::into),
            subject: None,
        }
    }

    #[test]
    fn a_job_settles_its_hold_once_when_first_seen_finished() {
        let cost = Cost {
            videos: 1,
            video_seconds: 8,
            ..Cost::default()
        };
        let mut r = record(Some("req_1"));
        let seen = r.observe_end(&VideoStatus::InProgress { progress: Some(40) }, cost);
        assert!(seen.changed);
        assert_eq!(seen.settle, None, "a running job keeps its hold open");
        let seen = r.observe_end(&VideoStatus::Completed, cost);
        assert_eq!(
            seen.settle,
            Some(("req_1".into(), Settlement::Commit { actual: cost }))
        );
        let again = r.observe_end(&VideoStatus::Completed, cost);
        assert_eq!(again.settle, None, "seen finished once already");
        assert!(!again.changed);

        let mut failed = record(Some("req_2"));
        let err = ClientError::new(ErrorCode::ContentPolicyViolation, "blocked");
        let seen = failed.observe_end(&VideoStatus::Failed(err), cost);
        assert_eq!(seen.settle, Some(("req_2".into(), Settlement::Refund)));

        let mut master = record(None);
        assert_eq!(
            master.observe_end(&VideoStatus::Completed, cost).settle,
            None
        );
    }

    fn entries(n: usize, deleted: &[usize]) -> Vec<IndexEntry> {
        (0..n)
            .map(|i| IndexEntry {
                name: std::format!("n{i:02}"),
                deleted: deleted.contains(&i),
                subject: None,
            })
            .collect()
    }

    #[test]
    fn pages_in_both_orders_skip_deleted_and_follow_after() {
        let idx = entries(5, &[1]);
        let page = select_page(&idx, &KEY, None, 2, Order::Desc);
        assert_eq!(
            page,
            Page {
                names: std::vec!["n00", "n02"],
                has_more: true
            }
        );
        let page = select_page(&idx, &KEY, Some("n02"), 2, Order::Desc);
        assert_eq!(
            page,
            Page {
                names: std::vec!["n03", "n04"],
                has_more: false
            }
        );
        let page = select_page(&idx, &KEY, None, 3, Order::Asc);
        assert_eq!(
            page,
            Page {
                names: std::vec!["n04", "n03", "n02"],
                has_more: true
            }
        );
        let page = select_page(&idx, &KEY, Some("n02"), 3, Order::Asc);
        assert_eq!(
            page,
            Page {
                names: std::vec!["n00"],
                has_more: false
            }
        );
        assert_eq!(
            select_page(&[], &KEY, None, 20, Order::Desc),
            Page {
                names: std::vec![],
                has_more: false
            }
        );
    }

    const KEY: Owner = Owner::key([1; crate::seal::OWNER_LEN]);

    #[test]
    fn a_visitor_lists_only_its_own_jobs_and_the_key_all() {
        let alice = Owner {
            subject: Some([0xa1; crate::seal::SUBJECT_LEN]),
            ..KEY
        };
        let bob = Owner {
            subject: Some([0xb0; crate::seal::SUBJECT_LEN]),
            ..KEY
        };
        let mut idx = entries(5, &[]);
        idx[1].subject = alice.subject_hex();
        idx[3].subject = alice.subject_hex();
        idx[4].subject = bob.subject_hex();
        let names = |viewer: &Owner| select_page(&idx, viewer, None, 20, Order::Desc).names;
        assert_eq!(names(&KEY), ["n00", "n01", "n02", "n03", "n04"]);
        assert_eq!(names(&alice), ["n01", "n03"]);
        assert_eq!(names(&bob), ["n04"]);
        let page = select_page(&idx, &alice, None, 1, Order::Desc);
        assert!(page.has_more, "pages count only what the visitor sees");
        let page = select_page(&idx, &alice, Some("n01"), 1, Order::Desc);
        assert_eq!((page.names, page.has_more), (std::vec!["n03"], false));
    }

    #[test]
    fn parses_list_queries() {
        assert_eq!(
            ListQuery::parse([]).unwrap(),
            ListQuery {
                after: None,
                limit: 20,
                order: Order::Desc
            }
        );
        let q = ListQuery::parse([("after", "video_x"), ("limit", "5"), ("order", "asc")]).unwrap();
        assert_eq!(
            q,
            ListQuery {
                after: Some("video_x".into()),
                limit: 5,
                order: Order::Asc
            }
        );
        for (pairs, param) in [
            (std::vec![("limit", "0")], "limit"),
            (std::vec![("limit", "101")], "limit"),
            (std::vec![("limit", "x")], "limit"),
            (std::vec![("order", "newest")], "order"),
            (std::vec![("page", "2")], "page"),
        ] {
            assert_eq!(
                ListQuery::parse(pairs).unwrap_err().param.as_deref(),
                Some(param)
            );
        }
    }

    #[test]
    fn records_track_status_changes() {
        let mut rec = JobRecord {
            id: "video_x".into(),
            prompt: "p".into(),
            model: "veo".into(),
            status: "queued".into(),
            error: None,
            deleted: false,
            remixed_from: None,
            quota_hold: None,
            subject: None,
        };
        assert!(!rec.observe(&VideoStatus::Queued));
        assert!(rec.observe(&VideoStatus::InProgress { progress: None }));
        let failed = VideoStatus::Failed(ClientError::new(
            ErrorCode::ContentPolicyViolation,
            "blocked",
        ));
        assert!(rec.observe(&failed));
        assert!(rec.is_final());
        assert_eq!(rec.last_status(), failed);
        assert!(!rec.observe(&failed));
    }
}
