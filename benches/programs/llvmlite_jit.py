"""The peer measurements made with llvmlite's LLJIT (pip install llvmlite).

    python3 llvmlite_jit.py first-call OPT REPEATS    # first lookup of a trivial function
    python3 llvmlite_jit.py module FILE.ll OPT         # compile a whole module, call main

Prints one JSON object. OPT is the target machine's codegen level (0 or 2); as in
the issue's anchors, no IR optimisation pipeline is run.
"""
import json, sys, time
import llvmlite.binding as llvm

llvm.initialize_native_target()
llvm.initialize_native_asmprinter()

def jit(opt):
    target = llvm.Target.from_default_triple()
    tm = target.create_target_machine(cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=opt, jit=True)
    return llvm.create_lljit_compiler(tm, use_jit_link=True)

TRIVIAL = 'define i64 @f() {\n  ret i64 1\n}\n'

def first_call(opt, repeats):
    times = []
    for i in range(repeats):
        lljit = jit(opt)
        t0 = time.perf_counter()
        rt = llvm.JITLibraryBuilder().add_ir(TRIVIAL).export_symbol('f').link(lljit, f'lib{i}')
        address = rt['f']
        times.append((time.perf_counter() - t0) * 1e6)
        assert address
    return {"us": times}

def module(path, opt):
    import ctypes
    ir = open(path).read()
    lljit = jit(opt)
    t0 = time.perf_counter()
    rt = llvm.JITLibraryBuilder().add_ir(ir).add_current_process().export_symbol('ore.main').link(lljit, 'prog')
    main = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p)(rt['ore.main'])
    ctx = (ctypes.c_uint64 * 8)()  # the Ore call context: no trap, no stack limit
    result = main(ctypes.addressof(ctx))
    return {"us": (time.perf_counter() - t0) * 1e6, "result": result}

if sys.argv[1] == 'first-call':
    print(json.dumps(first_call(int(sys.argv[2]), int(sys.argv[3]))))
else:
    print(json.dumps(module(sys.argv[2], int(sys.argv[3]))))
