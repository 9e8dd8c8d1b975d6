namespace Hybrid.Scripting.Pipeline

open System
open System.Globalization

/// A usage error: bad or unknown command-line input, reported in one line with exit code 2 before any work.
exception UsageError of string

/// What kind of value an option takes.
type OptionKind =
    | IntOption
    | FloatOption
    | TextOption
    | FlagOption

/// One command-line option of an experiment.
type OptionSpec =
    { Name: string
      Kind: OptionKind
      /// Shown in --help; None when the option has no default (optional, or chosen from others).
      Default: string option
      Help: string }

/// Parsed command-line options: the values given, by option name (without the leading dashes).
type ParsedOptions =
    { Given: Map<string, string>
      Specs: OptionSpec list }

/// Parsing and reading command-line options. Every reader raises <see cref="UsageError"/> with a
/// message that names the option, the value and what is allowed.
module CommandLine =

    let private invariant = CultureInfo.InvariantCulture

    /// An option with a default value.
    let option name kind (defaultValue: string) help =
        { Name = name; Kind = kind; Default = Some defaultValue; Help = help }

    /// An option without a default.
    let optional name kind help =
        { Name = name; Kind = kind; Default = None; Help = help }

    /// Parses `--name value` pairs and `--switch` flags against the specs.
    let parse (specs: OptionSpec list) (argv: string list) : ParsedOptions =
        let byName = specs |> List.map (fun s -> s.Name, s) |> Map.ofList
        let allowed () = specs |> List.map (fun s -> "--" + s.Name) |> String.concat ", "
        let rec go (acc: Map<string, string>) args =
            match args with
            | [] -> acc
            | (arg: string) :: rest when arg.StartsWith "--" ->
                let name = arg.Substring 2
                match Map.tryFind name byName with
                | None -> raise (UsageError(sprintf "unknown option '%s'; allowed: %s" arg (if specs |> List.exists (fun s -> s.Name = "help") then allowed () else allowed () + ", --help")))
                | Some _ when acc.ContainsKey name -> raise (UsageError(sprintf "option '%s' is given twice" arg))
                | Some { Kind = FlagOption } -> go (acc.Add(name, "true")) rest
                | Some _ ->
                    match rest with
                    | value :: rest' when not (value.StartsWith "--") || Double.TryParse(value, NumberStyles.Float, invariant) |> fst ->
                        go (acc.Add(name, value)) rest'
                    | _ -> raise (UsageError(sprintf "option '%s' needs a value" arg))
            | arg :: _ -> raise (UsageError(sprintf "unexpected argument '%s'; options have the form --name value" arg))
        { Given = go Map.empty argv; Specs = specs }

    let private raw (o: ParsedOptions) name =
        match Map.tryFind name o.Given with
        | Some v -> Some v
        | None -> o.Specs |> List.tryFind (fun s -> s.Name = name) |> Option.bind (fun s -> s.Default)

    /// Whether the option was given on the command line.
    let has (o: ParsedOptions) name = o.Given.ContainsKey name

    /// A switch.
    let switch (o: ParsedOptions) name = has o name

    let private parseInt name (v: string) =
        match Int64.TryParse(v, NumberStyles.Integer, invariant) with
        | true, i -> i
        | _ -> raise (UsageError(sprintf "--%s %s is not an integer" name v))

    let private parseFloat name (v: string) =
        match Double.TryParse(v, NumberStyles.Float, invariant) with
        | true, x when Double.IsFinite x -> x
        | true, x -> raise (UsageError(sprintf "--%s %s is not allowed: the value must be a finite number" name v))
        | _ -> raise (UsageError(sprintf "--%s %s is not a number" name v))

    /// An integer option, optionally constrained to [lo, hi] (the message names the range).
    let intIn (o: ParsedOptions) name (lo: int64) (hi: int64) : int64 option =
        raw o name
        |> Option.map (fun v ->
            let i = parseInt name v
            if i < lo || i > hi then
                let range = if hi = Int64.MaxValue then sprintf "an integer ≥ %d" lo else sprintf "an integer in %d..%d" lo hi
                raise (UsageError(sprintf "--%s %s is not allowed; it must be %s" name v range))
            i)

    /// A comma-separated list of integers in lo..hi (e.g. --sizes 4,6,8), each checked; `what` names one item in
    /// the message ("chain length"), `example` shows a valid list.
    let intList (o: ParsedOptions) name (lo: int) (hi: int) (what: string) (example: string) : int list option =
        raw o name
        |> Option.map (fun text ->
            text.Split(',', StringSplitOptions.TrimEntries)
            |> Array.map (fun w ->
                match Int32.TryParse(w, NumberStyles.Integer, invariant) with
                | true, v when v >= lo && v <= hi -> v
                | _ -> raise (UsageError(sprintf "--%s %s is not allowed: '%s' is not a %s in %d..%d; give them separated by commas, e.g. %s" name text w what lo hi example)))
            |> List.ofArray)

    /// A finite floating-point option.
    let float (o: ParsedOptions) name : float option = raw o name |> Option.map (parseFloat name)

    /// A required finite floating-point option that must be > 0 (a rate, a length, a mass).
    let positive (o: ParsedOptions) name : float =
        match float o name with
        | Some v when v > 0.0 -> v
        | Some v -> raise (UsageError(sprintf "--%s %g is not allowed; it must be a finite number > 0" name v))
        | None -> raise (UsageError(sprintf "option '--%s' is required" name))

    /// A text option.
    let text (o: ParsedOptions) name : string option = raw o name

    /// The value of a required option (one that has a default or was checked to be present).
    let required name (value: 'a option) =
        match value with
        | Some v -> v
        | None -> raise (UsageError(sprintf "option '--%s' is required" name))

    /// Checks, before any work, that the file `--name path` can be written where it is (its folder is created if
    /// needed); raises UsageError naming the option, the path and the reason.
    let writableFile (name: string) (path: string) =
        try
            let full = IO.Path.GetFullPath path
            if IO.Directory.Exists full then raise (UsageError(sprintf "--%s %s is a directory; give the path of a file" name path))
            IO.Directory.CreateDirectory(IO.Path.GetDirectoryName full) |> ignore
            let probe = sprintf "%s.%d.probe" full Environment.ProcessId
            IO.File.WriteAllText(probe, "")
            IO.File.Delete probe
        with
        | :? UnauthorizedAccessException
        | :? ArgumentException
        | :? NotSupportedException
        | :? IO.IOException as e -> raise (UsageError(sprintf "--%s %s cannot be written (%s); give a file path that can be created and written" name path e.Message))

    /// Runs a core constructor and turns its ArgumentException into a usage error with its clean message.
    let validate (f: unit -> 'a) : 'a =
        try
            f ()
        with :? ArgumentException as e ->
            let suffix = if isNull e.ParamName then "" else sprintf " (Parameter '%s')" e.ParamName
            let message = if suffix <> "" && e.Message.EndsWith suffix then e.Message.Substring(0, e.Message.Length - suffix.Length) else e.Message
            raise (UsageError message)

    /// The --help text of a list of options.
    let help (specs: OptionSpec list) =
        let line (s: OptionSpec) =
            let arg =
                match s.Kind with
                | IntOption -> " N"
                | FloatOption -> " X"
                | TextOption -> " VALUE"
                | FlagOption -> ""
            let def = s.Default |> Option.map (sprintf " (default %s)") |> Option.defaultValue ""
            sprintf "  --%-22s %s%s" (s.Name + arg) s.Help def
        specs |> List.map line |> String.concat "\n"
