//! Which database errors a write retries, and how long it waits between
//! tries — as oslo.db's `wrap_db_retry` does for OpenStack's services.

use std::time::Duration;

/// How an error ends an attempt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The transaction lost a race and was rolled back by the server
    /// (InnoDB deadlock, lock wait timeout, Galera certification failure or
    /// brute-force abort, a node not ready): run it again.
    Race,
    /// The connection broke: run it again on a new one — unless it broke
    /// during COMMIT, when the write may have landed (see the commit token).
    Lost,
    /// Anything else: a bug or a misconfigured database; not retried.
    Fatal,
}

/// Tries of one write before it is answered "unavailable" (about 30 s of
/// waiting: long enough for Galera to drop a lost node, and for a large
/// write racing a stream of small ones through other nodes to win once).
pub(crate) const MAX_ATTEMPTS: u32 = 36;

/// MySQL/MariaDB server error codes that mean "lost a race, try again".
const RACE_CODES: &[u16] = &[
    1213, // ER_LOCK_DEADLOCK: InnoDB deadlock, and Galera's certification failure
    1205, // ER_LOCK_WAIT_TIMEOUT
    1047, // ER_UNKNOWN_COM_ERROR: "WSREP has not yet prepared node for application use"
    1180, // ER_ERROR_DURING_COMMIT
    1181, // ER_ERROR_DURING_ROLLBACK
];

/// Server error codes that mean the connection (or server) is going away.
const LOST_CODES: &[u16] = &[
    1040, // ER_CON_COUNT_ERROR: too many connections
    1053, // ER_SERVER_SHUTDOWN
    1927, // ER_CONNECTION_KILLED
    4031, // ER_CLIENT_INTERACTION_TIMEOUT
];

pub(crate) fn classify(e: &mysql::Error) -> Kind {
    match e {
        mysql::Error::MySqlError(m) if RACE_CODES.contains(&m.code) => Kind::Race,
        mysql::Error::MySqlError(m) if LOST_CODES.contains(&m.code) => Kind::Lost,
        mysql::Error::MySqlError(_) => Kind::Fatal,
        mysql::Error::IoError(_) | mysql::Error::CodecError(_) => Kind::Lost,
        mysql::Error::DriverError(
            mysql::DriverError::CouldNotConnect(_)
            | mysql::DriverError::ConnectTimeout
            | mysql::DriverError::PacketOutOfSync
            | mysql::DriverError::Timeout,
        ) => Kind::Lost,
        _ => Kind::Fatal,
    }
}

/// The wait before try `attempt` + 1: 20 ms doubling up to 1 s, with up to
/// a half of it added at random so that racing writers spread out.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = 20u64.saturating_mul(1 << attempt.min(6)).min(1000);
    let jitter = uuid::Uuid::new_v4().as_u128() as u64 % (base / 2 + 1);
    Duration::from_millis(base + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadlock_is_retried_and_a_syntax_error_is_not() {
        let server = |code| {
            mysql::Error::MySqlError(mysql::MySqlError { state: "40001".into(), message: "x".into(), code })
        };
        assert_eq!(classify(&server(1213)), Kind::Race);
        assert_eq!(classify(&server(1064)), Kind::Fatal);
        assert_eq!(classify(&server(1053)), Kind::Lost);
        let io = mysql::Error::IoError(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(classify(&io), Kind::Lost);
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        assert!(backoff(0) >= Duration::from_millis(20) && backoff(0) <= Duration::from_millis(30));
        assert!(backoff(30) <= Duration::from_millis(1500));
    }
}
