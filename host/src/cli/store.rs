//! `rollback-host store copy`: move a store between sled and MySQL.

use super::serve::StoreCompression;
use anyhow::Context;
use rollback_store::{MysqlOptions, Store};
use std::process::ExitCode;

/// Commands on a store itself (the service must be stopped).
#[derive(Debug, clap::Subcommand)]
pub enum StoreCommand {
    /// Copy every plan, action, document and uploaded plugin from one store
    /// into another, empty one: a data directory (sled) or a
    /// `mysql://USER@HOST[:PORT]/DATABASE` URL, either way. Stop the service
    /// first. The MySQL password comes from `--store-password-file` or
    /// ROLLBACK_STORE_PASSWORD.
    Copy {
        /// The store to copy: a data directory or a mysql:// URL.
        #[arg(long, value_name = "DIR|URL")]
        from: String,
        /// The empty store to copy into: a data directory or a mysql:// URL.
        #[arg(long, value_name = "DIR|URL")]
        to: String,
        /// File holding the MySQL password (its first line).
        #[arg(long, env = "ROLLBACK_STORE_PASSWORD_FILE", value_name = "FILE")]
        store_password_file: Option<std::path::PathBuf>,
        /// How the new data directory `--to` keeps its pages (see `serve
        /// --store-compression`).
        #[arg(long, value_enum, default_value_t = StoreCompression::None)]
        compression: StoreCompression,
    },
}

fn open(
    place: &str,
    password_file: Option<&std::path::Path>,
    compression: StoreCompression,
) -> anyhow::Result<Store> {
    if place.starts_with("mysql://") {
        let options = MysqlOptions::new(place, super::serve::store_password(password_file)?)?;
        Store::connect(&options).with_context(|| format!("connecting to {place}"))
    } else {
        Store::open_with(place, compression.into())
            .with_context(|| format!("opening the data directory {place}"))
    }
}

pub fn run(cmd: StoreCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        StoreCommand::Copy { from, to, store_password_file, compression } => {
            let source = open(&from, store_password_file.as_deref(), StoreCompression::None)?;
            let target = open(&to, store_password_file.as_deref(), compression)?;
            if let Some(kept) = target.compression().filter(|&kept| kept != compression.into()) {
                anyhow::bail!(
                    "the data directory {to} was created with compression {kept:?}; copy into a new directory"
                );
            }
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} plans ({eta} left)")
                    .expect("a valid template"),
            );
            let copied = source.copy_to(&target, |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            });
            bar.finish_and_clear();
            let copied = copied.with_context(|| format!("copying {from} into {to}"))?;
            println!(
                "copied {} plans, {} actions, {} documents and {} blobs from {from} into {to}",
                copied.plans, copied.actions, copied.documents, copied.blobs
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
