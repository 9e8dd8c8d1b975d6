namespace Hybrid.Scripting.Pipeline

open System
open System.Globalization

/// Raw measurements of a run as named columns, replica-major: column.[replica].[index] (a replica is one independent
/// Markov chain, or one stream of independent draws). What every experiment writes to measurements.csv and what
/// `merge` reads back, whatever the capability; capability modules convert their own series to and from it.
type Measurements =
    { /// Column names in file order, each with its values by replica.
      Columns: (string * float[][]) list }

    /// The column called `name`.
    member m.Item
        with get (name: string) =
            match m.Columns |> List.tryFind (fst >> (=) name) with
            | Some(_, values) -> values
            | None -> invalidArg "name" (sprintf "no measurement column '%s'; the columns are %s" name (m.Columns |> List.map fst |> String.concat ", "))

    /// Whether there is a column called `name`.
    member m.Has(name: string) = m.Columns |> List.exists (fst >> (=) name)

    /// The number of replicas.
    member m.Replicas = match m.Columns with [] -> 0 | (_, c) :: _ -> c.Length

/// Writing, reading and joining raw measurements (measurements.csv: replica, index, then one column per name).
module Measurements =

    let private invariant = CultureInfo.InvariantCulture

    /// Measurements from named columns; every column must have the same replicas and lengths.
    let ofColumns (columns: (string * float[][]) list) : Measurements =
        match columns with
        | [] -> { Columns = [] }
        | (first, reference) :: rest ->
            for name, c in rest do
                if c.Length <> reference.Length || Array.exists2 (fun (a: float[]) (b: float[]) -> a.Length <> b.Length) c reference then
                    invalidArg "columns" (sprintf "column '%s' does not have the replicas and lengths of column '%s'" name first)
            { Columns = columns }

    /// Writes one row per replica and measurement, atomically. Ten significant digits: far below any statistical
    /// error, and half the size of round-trip output.
    let write (path: string) (m: Measurements) =
        AtomicFile.write path (fun w ->
            w.Write "replica,index"
            for name, _ in m.Columns do
                w.Write("," + name)
            w.WriteLine()
            match m.Columns with
            | [] -> ()
            | (_, reference) :: _ ->
                for k in 0 .. reference.Length - 1 do
                    for i in 0 .. reference.[k].Length - 1 do
                        w.Write(string k)
                        w.Write(',')
                        w.Write(string i)
                        for _, column in m.Columns do
                            w.Write(',')
                            w.Write(column.[k].[i].ToString("G10", invariant))
                        w.WriteLine())

    /// Reads what `write` wrote (rows grouped by their replica column, in file order within each).
    let read (path: string) : Measurements =
        let lines = IO.File.ReadAllLines path
        if lines.Length = 0 then raise (IO.InvalidDataException(sprintf "'%s' is empty; it should start with a header line" path))
        let header = lines.[0].Split(',')
        if header.Length < 2 || header.[0] <> "replica" || header.[1] <> "index" then
            raise (IO.InvalidDataException(sprintf "'%s' is not a measurements file (its header should start with replica,index)" path))
        // Every row is checked: a truncated or edited file is refused naming its line, never read half.
        let rows =
            lines
            |> Array.mapi (fun i l -> i + 1, l)
            |> Array.skip 1
            |> Array.filter (fun (_, l) -> l.Length > 0)
            |> Array.map (fun (number, l) ->
                let fields = l.Split(',')
                let bad () = raise (IO.InvalidDataException(sprintf "'%s' is damaged: line %d is not %d comma-separated numbers (truncated or edited?)" path number header.Length))
                if fields.Length <> header.Length then bad ()
                let replica = match Int32.TryParse(fields.[0], NumberStyles.Integer, invariant) with | true, k when k >= 0 -> k | _ -> bad ()
                let values = fields.[2..] |> Array.map (fun f -> match Double.TryParse(f, NumberStyles.Float, invariant) with | true, x -> x | _ -> bad ())
                replica, values)
        let byReplica = rows |> Array.groupBy fst |> Array.sortBy fst |> Array.map (snd >> Array.map snd)
        { Columns =
            [ for c in 2 .. header.Length - 1 ->
                  header.[c], byReplica |> Array.map (Array.map (fun r -> r.[c - 2])) ] }

    /// The replicas of several runs side by side (same columns, in the same order): replica j of the result is a
    /// replica of one of the parts.
    let concat (parts: Measurements list) : Measurements =
        match parts with
        | [] -> { Columns = [] }
        | first :: rest ->
            let names = first.Columns |> List.map fst
            for p in rest do
                if p.Columns |> List.map fst <> names then
                    invalidArg "parts" "measurements with different columns cannot be joined"
            { Columns = names |> List.map (fun n -> n, parts |> List.map (fun p -> p.[n]) |> Array.concat) }
