//! The launch files in `deploy/` (a Slurm job array, a Kubernetes Indexed Job, each with its
//! merge step): they parse, their sizes agree, and every stage binary they call accepts the
//! flags it is given. No scheduler is needed.

use std::path::Path;

use clap::Parser;
use ebsc_tests::repo_root;

/// Substitutes the scripts' variables with values a user would have.
fn expand(word: &str) -> String {
    word.trim_matches('"')
        .replace("$PIPELINE", "pipelines/mnist.toml")
        .replace("$RUNS_DIR", "data/runs")
        .replace("$SLURM_CPUS_PER_TASK", "8")
}

/// Checks one command line (`binary args…`) against that binary's argument parser.
fn check_command(words: &[String], file: &Path) {
    let binary = Path::new(&words[0])
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let parsed = match binary.as_str() {
        "ebsc-affinity" => ebsc_affinity::Args::try_parse_from(words).map(|_| ()),
        "ebsc-cluster" => ebsc_cluster::Args::try_parse_from(words).map(|_| ()),
        other => panic!("{}: calls {other}, not a stage binary", file.display()),
    };
    if let Err(e) = parsed {
        panic!("{}: `{}`: {e}", file.display(), words.join(" "));
    }
}

/// The lines of a shell script that run a stage binary, split into words.
fn stage_commands(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("target/release/ebsc-"))
        .map(|l| l.split_whitespace().map(expand).collect())
        .collect()
}

fn sbatch_option<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("#SBATCH "))
        .find_map(|l| l.strip_prefix(&format!("--{name}=")))
}

#[test]
fn slurm_array_then_merge() {
    let dir = repo_root().join("deploy/slurm");
    let array = std::fs::read_to_string(dir.join("affinity.sbatch")).unwrap();
    let range = sbatch_option(&array, "array").expect("affinity.sbatch sets --array");
    let (first, last) = range.split_once('-').expect("--array=first-last");
    assert!(first.parse::<u32>().unwrap() <= last.parse::<u32>().unwrap());
    let commands = stage_commands(&array);
    assert_eq!(commands.len(), 1, "{array}");
    assert!(commands[0].windows(2).any(|w| w == ["--shard", "auto"]));
    check_command(&commands[0], &dir.join("affinity.sbatch"));

    let merge = std::fs::read_to_string(dir.join("merge.sbatch")).unwrap();
    let commands = stage_commands(&merge);
    assert_eq!(commands.len(), 2, "{merge}");
    assert!(commands[0].contains(&"--merge".to_string()));
    for command in &commands {
        check_command(command, &dir.join("merge.sbatch"));
    }

    let submit = std::fs::read_to_string(dir.join("submit.sh")).unwrap();
    assert!(submit.contains("deploy/slurm/affinity.sbatch"));
    assert!(submit.contains("--dependency=afterok:\"$array\" deploy/slurm/merge.sbatch"));
    for script in ["affinity.sbatch", "merge.sbatch", "submit.sh"] {
        let status = std::process::Command::new("bash")
            .args(["-n", dir.join(script).to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success(), "{script}: bash -n");
    }
}

fn read_yaml(path: &Path) -> serde_yaml::Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn container(job: &serde_yaml::Value) -> &serde_yaml::Value {
    &job["spec"]["template"]["spec"]["containers"][0]
}

fn strings(value: &serde_yaml::Value) -> Vec<String> {
    value
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn kubernetes_indexed_job_then_merge() {
    let dir = repo_root().join("deploy/kubernetes");
    let path = dir.join("affinity-job.yaml");
    let job = read_yaml(&path);
    assert_eq!(job["kind"].as_str(), Some("Job"));
    assert_eq!(job["spec"]["completionMode"].as_str(), Some("Indexed"));
    let completions = job["spec"]["completions"].as_u64().unwrap();
    let env = &container(&job)["env"];
    let count = env
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| e["name"].as_str() == Some("EBSC_SHARD_COUNT"))
        .and_then(|e| e["value"].as_str())
        .expect("EBSC_SHARD_COUNT is set");
    assert_eq!(
        count,
        completions.to_string(),
        "EBSC_SHARD_COUNT = completions"
    );
    let command = strings(&container(&job)["command"]);
    assert!(command.windows(2).any(|w| w == ["--shard", "auto"]));
    check_command(&command, &path);

    let path = dir.join("affinity-merge-job.yaml");
    let merge = read_yaml(&path);
    assert_eq!(merge["kind"].as_str(), Some("Job"));
    let command = strings(&container(&merge)["command"]);
    assert_eq!(&command[..2], ["sh", "-c"]);
    let lines: Vec<Vec<String>> = command[2]
        .split("&&")
        .map(|part| part.split_whitespace().map(expand).collect())
        .collect();
    assert_eq!(lines.len(), 2, "{}", command[2]);
    assert!(lines[0].contains(&"--merge".to_string()));
    for line in &lines {
        check_command(line, &path);
    }
    // Both jobs read and write the same volume.
    let claim = |job: &serde_yaml::Value| {
        job["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
            .as_str()
            .map(str::to_string)
    };
    assert_eq!(claim(&job), claim(&merge));
}
