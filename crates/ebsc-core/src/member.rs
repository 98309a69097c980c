//! Members: one prepared data set trained several times, each time from its own seed, and
//! clustered once on the mean of the members' graphs (docs/caching.md, "Members").
//!
//! ```text
//! <runs>/<pipeline>/prepare/               shared by every member
//! <runs>/<pipeline>/{pretrain,train,affinity}/            member 0 (seed s)
//! <runs>/<pipeline>/member-1/{pretrain,train,affinity}/   member 1 (seed s + 1)
//! <runs>/<pipeline>/cluster/               the mean of the members' affinity graphs
//! ```
//!
//! Member 0 is the pipeline as a one-member pipeline runs it, in the same folders and with
//! the same keys, so `members = 1` (the default) changes nothing and adding members reuses
//! the first one.

use std::path::PathBuf;

use crate::config::Pipeline;
use crate::stage::Outcome;

/// The stages that run once for every member; prepare and cluster run once a pipeline.
pub const MEMBER_STAGES: &[&str] = &["pretrain", "train", "affinity"];

/// The most members `[pipeline] members` may ask for.
pub const MAX_MEMBERS: usize = 16;

/// Member `member`'s seed: the pipeline's seed plus the member's number. Member 0 is the
/// pipeline itself, and member m of seed s trains as a one-member pipeline of seed s + m
/// would on the same prepared samples (so pipelines of seeds s and s + 1 share a member:
/// step the seeds by the member count for independent repeats).
pub fn member_seed(seed: u64, member: usize) -> u64 {
    seed.wrapping_add(member as u64)
}

/// A stage's folder inside the pipeline's run folder for `member`: `stage` itself for
/// member 0 and for the stages the members share, `member-<m>/<stage>` otherwise.
pub fn member_stage_path(member: usize, stage: &str) -> PathBuf {
    if member == 0 || !MEMBER_STAGES.contains(&stage) {
        PathBuf::from(stage)
    } else {
        PathBuf::from(format!("member-{member}")).join(stage)
    }
}

/// How a member's stage is named in logs and outcome lines: `train`, `member-1/train`.
pub fn member_stage_label(member: usize, stage: &str) -> String {
    member_stage_path(member, stage)
        .to_string_lossy()
        .into_owned()
}

/// The members a stage binary runs: `only` (its `--member`) or every member in turn.
pub fn members_to_run(pipeline: &Pipeline, only: Option<usize>) -> anyhow::Result<Vec<usize>> {
    let count = pipeline.settings.members;
    match only {
        None => Ok((0..count).collect()),
        Some(member) if member < count => Ok(vec![member]),
        Some(member) => anyhow::bail!(
            "--member {member}: pipeline {} has {count} member{} (numbered 0 to {})",
            pipeline.name,
            if count == 1 { "" } else { "s" },
            count - 1
        ),
    }
}

/// Runs `stage` for each member `only` selects, in order, stopping at the first error
/// (which names the member); the outcomes with their members.
pub fn run_members(
    pipeline: &Pipeline,
    only: Option<usize>,
    mut stage: impl FnMut(usize) -> anyhow::Result<Outcome>,
) -> anyhow::Result<Vec<(usize, Outcome)>> {
    let mut outcomes = Vec::new();
    for member in members_to_run(pipeline, only)? {
        let outcome = stage(member).map_err(|error| match member {
            0 => error,
            _ => error.context(format!("member {member}")),
        })?;
        outcomes.push((member, outcome));
    }
    Ok(outcomes)
}

/// The `--member` flag of the stages that run once a member.
#[derive(Debug, Clone, clap::Args)]
pub struct MemberArgs {
    /// Run only this member (0 is the pipeline's own run; default: every member in turn,
    /// `[pipeline] members`).
    #[arg(long, value_name = "M")]
    pub member: Option<usize>,
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn pipeline(text: &str) -> Pipeline {
        Pipeline::parse(Path::new("pipelines/p.toml"), text).unwrap()
    }

    #[test]
    fn member_zero_is_the_pipeline_itself() {
        assert_eq!(member_seed(7, 0), 7);
        assert_eq!(member_seed(7, 2), 9);
        assert_eq!(member_stage_path(0, "train"), PathBuf::from("train"));
        assert_eq!(
            member_stage_path(2, "train"),
            PathBuf::from("member-2/train")
        );
        assert_eq!(member_stage_label(1, "pretrain"), "member-1/pretrain");
        // Shared stages have one folder whatever the member.
        assert_eq!(member_stage_path(1, "prepare"), PathBuf::from("prepare"));
        assert_eq!(member_stage_path(1, "cluster"), PathBuf::from("cluster"));
    }

    #[test]
    fn members_to_run_checks_the_range() {
        let one = pipeline("[pipeline]\nseed = 0\n");
        assert_eq!(one.settings.members, 1);
        assert_eq!(members_to_run(&one, None).unwrap(), vec![0]);
        let three = pipeline("[pipeline]\nseed = 0\nmembers = 3\n");
        assert_eq!(members_to_run(&three, None).unwrap(), vec![0, 1, 2]);
        assert_eq!(members_to_run(&three, Some(2)).unwrap(), vec![2]);
        let error = members_to_run(&three, Some(3)).unwrap_err().to_string();
        assert_eq!(
            error,
            "--member 3: pipeline p has 3 members (numbered 0 to 2)"
        );
    }

    #[test]
    fn a_member_count_out_of_range_is_named() {
        for (count, members) in [("0", 0), ("17", 17)] {
            let error = Pipeline::parse(
                Path::new("pipelines/p.toml"),
                &format!("[pipeline]\nseed = 0\nmembers = {count}\n"),
            )
            .unwrap_err()
            .to_string();
            assert_eq!(
                error,
                format!(
                    "pipelines/p.toml: [pipeline]: members = {members}: expected 1 to {MAX_MEMBERS}"
                )
            );
        }
    }

    #[test]
    fn run_members_names_the_member_that_failed() {
        let two = pipeline("[pipeline]\nseed = 0\nmembers = 2\n");
        let mut seen = Vec::new();
        let error = run_members(&two, None, |member| {
            seen.push(member);
            match member {
                0 => Ok(Outcome::UpToDate {
                    key: "0".repeat(64),
                }),
                _ => anyhow::bail!("disk full"),
            }
        })
        .unwrap_err();
        assert_eq!(seen, vec![0, 1]);
        assert_eq!(format!("{error:#}"), "member 1: disk full");
    }
}
