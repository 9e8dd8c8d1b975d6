module Hybrid.Scripting.Tests.Pipeline.MeasurementsTests

open System
open System.IO
open Expecto
open Hybrid.Scripting.Pipeline
open Hybrid.Scripting.Tests.Support

[<Tests>]
let tests =
    testList
        "Measurements"
        [ test "measurements.csv reads back as written, replica by replica, to ten significant digits" {
              let energy = [| [| -1.25; Math.PI; 1e-12 |]; [| 2.0; -3.5; 0.1 |] |]
              let accepted = [| [| 1.0; 0.0; 1.0 |]; [| 0.0; 0.0; 1.0 |] |]
              let m = Measurements.ofColumns [ "energy", energy; "accepted", accepted ]
              let dir = newDirectory "hybrid-measurements"
              let path = Path.Combine(dir, "measurements.csv")
              Measurements.write path m
              Expect.equal (File.ReadAllLines(path).[0]) "replica,index,energy,accepted" "header: replica, index, then the columns in order"
              let back = Measurements.read path
              Expect.equal (back.Columns |> List.map fst) [ "energy"; "accepted" ] "the names in file order"
              Expect.equal back.Replicas 2 "two replicas"
              Expect.equal back.["accepted"] accepted "exact values come back exactly"
              for k in 0 .. 1 do
                  for i in 0 .. 2 do
                      Expect.floatClose { absolute = 0.0; relative = 1e-9 } back.["energy"].[k].[i] energy.[k].[i] "ten digits"
              Directory.Delete(dir, true)
          }

          test "columns of different shapes, unknown names and foreign files are refused by name" {
              Expect.throwsT<ArgumentException> (fun () -> Measurements.ofColumns [ "a", [| [| 1.0 |] |]; "b", [| [| 1.0; 2.0 |] |] ] |> ignore) "lengths differ"
              let m = Measurements.ofColumns [ "a", [| [| 1.0 |] |] ]
              let e = Expect.throwsC (fun () -> m.["b"] |> ignore) id
              Expect.stringContains e.Message "no measurement column 'b'; the columns are a" "names what exists"
              let dir = newDirectory "hybrid-measurements"
              let path = Path.Combine(dir, "other.csv")
              File.WriteAllText(path, "x,y\n1,2\n")
              Expect.throwsT<InvalidDataException> (fun () -> Measurements.read path |> ignore) "not a measurements file"
              Directory.Delete(dir, true)
          }

          test "replicas of several runs join side by side" {
              let one = Measurements.ofColumns [ "x", [| [| 1.0; 2.0 |] |] ]
              let two = Measurements.ofColumns [ "x", [| [| 3.0 |]; [| 4.0; 5.0 |] |] ]
              Expect.equal (Measurements.concat [ one; two ]).["x"] [| [| 1.0; 2.0 |]; [| 3.0 |]; [| 4.0; 5.0 |] |] "three replicas"
              Expect.throwsT<ArgumentException> (fun () -> Measurements.concat [ one; Measurements.ofColumns [ "y", [| [| 1.0 |] |] ] ] |> ignore) "different columns"
          } ]
