//! reelay edge (being written).
