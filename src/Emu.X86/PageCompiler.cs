using System.Reflection;
using System.Reflection.Emit;
using Iced.Intel;
using Label = System.Reflection.Emit.Label;

namespace Emu.X86;

/// <summary>Translates the hot blocks of one code page (32-bit code) into one host method: the forms the run loop
/// executes itself become inline IL with their registers, ALU operation and condition as constants; every other
/// instruction becomes a direct call of the handler <see cref="Cpu.Dispatch"/> would pick; a branch to another
/// compiled block of the page is a jump. The result behaves exactly as stepping the blocks would.</summary>
/// <remarks>What the interpreter pays per instruction the code pays only where it matters: EIP and the fault restart
/// point are stored before calls that read them and when leaving (inline forms cannot fault), the retired-instruction
/// count is brought up to date before calls (device callbacks and REP slices read it) and at block ends, and the
/// leave-the-block flag is tested after calls (faults, code writes and mode changes set it). Between blocks the code
/// checks the run's instruction budget and returns every <see cref="MaxLinks"/> branches so interrupts are polled.</remarks>
static class PageCompiler
{
    /// <summary>Branches between compiled blocks before the code returns to the run loop.</summary>
    const int MaxLinks = 32;

    const BindingFlags Private = BindingFlags.NonPublic | BindingFlags.Instance;
    static readonly Type FormRef = typeof(OpForm).MakeByRefType(), InstructionRef = typeof(Instruction).MakeByRefType();

    static readonly FieldInfo Eip = Field("_eip"), EipStart = Field("_eipStart"), Instructions = Field("_instructions"),
        BreakBlock = Field("_breakBlock"), Registers = Field("R"), RunLimit = Field("_runLimit");
    static readonly FieldInfo Forms = typeof(PageCode).GetField(nameof(PageCode.Forms))!,
        Code = typeof(PageCode).GetField(nameof(PageCode.Code))!;
    static readonly MethodInfo Alu32 = Method("Alu32", typeof(AluOp), typeof(int), typeof(uint)),
        Condition = Method("Condition", typeof(ConditionCode)), NearJump = Method("NearJump", typeof(uint));

    /// <summary>Forms whose handlers read neither EIP nor the restart point (they only move and compute data).</summary>
    static readonly HashSet<Form> DataForms =
    [
        Form.MovRM32, Form.MovMR32, Form.MovMI32, Form.MovzxRM8, Form.MovzxRM16, Form.MovRM16, Form.MovMR16,
        Form.MovRM8, Form.MovMR8, Form.AluRM32, Form.CmpMR32, Form.CmpMI32, Form.AluMR32, Form.AluMI32, Form.AluMI8,
        Form.Cmp8R, Form.Cmp8M, Form.MovMI8, Form.PushR32, Form.PopR32, Form.IncDec, Form.MovzxRR, Form.ShiftRI32,
        Form.ImulRR32, Form.CmovR32, Form.CmovRM32, Form.MulR32, Form.MulM32,
    ];

    /// <summary>The handler each non-inline form runs, as <see cref="Cpu.Dispatch"/> maps them.</summary>
    static readonly MethodInfo?[] Handlers = BuildHandlers();

    static FieldInfo Field(string name) => typeof(Cpu).GetField(name, Private)
        ?? throw new MissingFieldException(nameof(Cpu), name);

    static MethodInfo Method(string name, params Type[] args) => typeof(Cpu).GetMethod(name, Private, args)
        ?? throw new MissingMethodException(nameof(Cpu), name);

    static MethodInfo?[] BuildHandlers()
    {
        var h = new MethodInfo?[Enum.GetValues<Form>().Length];
        Type[] form = [FormRef], formAndInstruction = [FormRef, InstructionRef], instruction = [InstructionRef];
        void Map(string name, Type[] args, params Form[] forms)
        {
            foreach (Form f in forms) h[(int)f] = Method(name, args);
        }
        void Form1(string name, params Form[] forms) => Map(name, form, forms);
        void Form2(string name, params Form[] forms) => Map(name, formAndInstruction, forms);
        void Ins(string name, params Form[] forms) => Map(name, instruction, forms);
        Form1("MovRM32", Form.MovRM32);
        Form1("StoreMemory32", Form.MovMR32, Form.MovMI32);
        Form1("MovzxRM", Form.MovzxRM8, Form.MovzxRM16);
        Form1("MovRM16", Form.MovRM16);
        Form1("MovMR16", Form.MovMR16);
        Form1("MovRM8", Form.MovRM8);
        Form1("MovMR8", Form.MovMR8);
        Form1("AluRM32", Form.AluRM32);
        Form1("CompareMemory32", Form.CmpMR32, Form.CmpMI32);
        Form2("AluMemory", Form.AluMR32, Form.AluMI32, Form.AluMI8);
        Form2("Compare8", Form.Cmp8R, Form.Cmp8M);
        Form1("MovMI8", Form.MovMI8);
        Form2("PushR32", Form.PushR32);
        Form2("PopR32", Form.PopR32);
        Ins("IncDecByMnemonic", Form.IncDec);
        Form1("MovzxRR", Form.MovzxRR);
        Form2("ShiftRI32", Form.ShiftRI32);
        Form1("ImulRR32", Form.ImulRR32);
        Form1("CmovR32", Form.CmovR32);
        Form1("CmovRM32", Form.CmovRM32);
        Form1("Mul32", Form.MulR32, Form.MulM32);
        Ins("Call", Form.Call);
        Ins("RetNear", Form.Ret);
        Form2("CallRel32", Form.CallRel32);
        Form2("Ret32", Form.Ret32);
        Ins("Jmp", Form.Jmp);
        Ins("Execute", Form.Generic);
        return h;
    }

    /// <summary>Builds the host code of the blocks entered at <paramref name="entries"/> of a page's decoded
    /// <paramref name="forms"/> and <paramref name="code"/>.</summary>
    public static PageCode Compile(OpForm[] forms, Instruction[] code, IReadOnlyCollection<int> entries)
    {
        int n = 0;
        foreach (int e in entries) n = Math.Max(n, e + 1);
        var isEntry = new bool[n];
        var counts = new int[n];
        var offsets = new uint[code.Length];
        for (int j = 0; j < code.Length; j++) offsets[j] = (uint)code[j].IP & 0xFFF;
        foreach (int e in entries)
        {
            isEntry[e] = true;
            counts[e] = BlockLength(forms, e);
        }
        var page = new PageCode(forms, code, isEntry, counts, offsets);

        var method = new DynamicMethod("Page", null, [typeof(PageCode), typeof(Cpu), typeof(int)], typeof(Cpu), skipVisibility: true);
        new Emitter(method.GetILGenerator(), page).Emit();
        var run = (Action<Cpu, int>)method.CreateDelegate(typeof(Action<Cpu, int>), page);
        // The runtime compiles the method at its first call: make that here, on the compiler's thread.
        run(null!, -1);
        page.Run = run;
        return page;
    }

    /// <summary>Instructions one page method holds at most: far larger methods are compiled without optimization.</summary>
    public const int MaxInstructions = 512;

    /// <summary>The instructions of the block that runs from <paramref name="start"/> to its end.</summary>
    public static int BlockLength(OpForm[] forms, int start)
    {
        int end = start;
        while (end < forms.Length - 1 && !forms[end].End) end++;
        return end - start + 1;
    }

    /// <summary>Emits one page method.</summary>
    sealed class Emitter(ILGenerator il, PageCode page)
    {
        readonly LocalBuilder _base = il.DeclareLocal(typeof(uint));   // EIP of the page's first byte
        readonly LocalBuilder _links = il.DeclareLocal(typeof(int));
        readonly Label _breakExit = il.DefineLabel(), _return = il.DefineLabel();
        readonly Dictionary<uint, int> _entryAt = [];
        readonly Dictionary<int, Label> _blocks = [];
        readonly List<(Label Label, uint Start, uint Next)> _dataExits = [];
        readonly Dictionary<uint, Label> _leaves = [];

        public void Emit()
        {
            bool[] entries = page.Entries;
            for (int j = 0; j < entries.Length; j++)
                if (entries[j])
                {
                    _blocks[j] = il.DefineLabel();
                    _entryAt[page.Offsets[j]] = j;
                }
            // Entry: base = EIP - the entry instruction's offset; links = MaxLinks. Any other index returns at once,
            // which lets the compiler thread have the runtime compile the method by calling it with no CPU.
            var table = new Label[entries.Length];
            var starts = new Dictionary<int, Label>();
            Label none = il.DefineLabel();
            for (int j = 0; j < table.Length; j++) table[j] = entries[j] ? starts[j] = il.DefineLabel() : none;
            il.Emit(OpCodes.Ldarg_2);
            il.Emit(OpCodes.Switch, table);
            il.MarkLabel(none);
            il.MarkLabel(_return);
            il.Emit(OpCodes.Ret);
            foreach (var (j, label) in starts)
            {
                il.MarkLabel(label);
                il.Emit(OpCodes.Ldarg_1);
                il.Emit(OpCodes.Ldfld, Eip);
                il.Emit(OpCodes.Ldc_I4, (int)page.Offsets[j]);
                il.Emit(OpCodes.Sub);
                il.Emit(OpCodes.Stloc, _base);
                il.Emit(OpCodes.Ldc_I4, MaxLinks);
                il.Emit(OpCodes.Stloc, _links);
                il.Emit(OpCodes.Br, _blocks[j]);
            }
            foreach (var (start, label) in _blocks)
            {
                il.MarkLabel(label);
                EmitBlock(start);
            }
            // A handler asked to leave after its instruction: the count was synced before it, so one more.
            il.MarkLabel(_breakExit);
            AddRetired(1);
            il.Emit(OpCodes.Ret);
            // The same for data forms, which find EIP and the restart point stored only here, out of the hot path.
            foreach (var (label, at, next) in _dataExits)
            {
                il.MarkLabel(label);
                StoreEip(EipStart, at);
                StoreEip(Eip, next);
                il.Emit(OpCodes.Br, _breakExit);
            }
            // Leaving the compiled blocks at a known offset: EIP there.
            foreach (var (offset, label) in _leaves)
            {
                il.MarkLabel(label);
                StoreEip(Eip, offset);
                il.Emit(OpCodes.Ret);
            }
        }

        void EmitBlock(int start)
        {
            OpForm[] forms = page.Forms;
            int count = page.Counts[start];
            int synced = 0;         // instructions of this block already added to the retired count
            for (int k = 0; k < count; k++)
            {
                int j = start + k;
                OpForm f = forms[j];
                uint at = page.Offsets[j], next = at + (uint)f.Length;
                bool last = k == count - 1;
                switch (f.Kind)
                {
                    case Form.MovRR32:
                        StoreRegister(f.A, () => LoadRegister(f.B));
                        break;
                    case Form.MovRI32:
                        StoreRegister(f.A, () => il.Emit(OpCodes.Ldc_I4, (int)f.Imm));
                        break;
                    case Form.AluRR32:
                    case Form.AluRI32:
                        il.Emit(OpCodes.Ldarg_1);
                        il.Emit(OpCodes.Ldc_I4, (int)f.Alu);
                        il.Emit(OpCodes.Ldc_I4, (int)f.A);
                        if (f.Kind == Form.AluRR32) LoadRegister(f.B);
                        else il.Emit(OpCodes.Ldc_I4, (int)f.Imm);
                        il.Emit(OpCodes.Call, Alu32);
                        break;
                    case Form.Lea32:
                        StoreRegister(f.A, () => EffectiveAddress(f));
                        break;
                    case Form.Jcc:
                        {
                            // A Jcc always ends its block.
                            AddRetired(count - synced);
                            Label notTaken = il.DefineLabel();
                            il.Emit(OpCodes.Ldarg_1);
                            il.Emit(OpCodes.Ldc_I4, (int)f.A);
                            il.Emit(OpCodes.Call, Condition);
                            il.Emit(OpCodes.Brfalse, notTaken);
                            uint target = next + f.Imm;
                            StoreEip(EipStart, at);
                            il.Emit(OpCodes.Ldarg_1);
                            EipAt(target);
                            if (f.B != 0)
                            {
                                il.Emit(OpCodes.Ldc_I4, 0xFFFF);
                                il.Emit(OpCodes.And);
                            }
                            il.Emit(OpCodes.Call, NearJump);
                            // NearJump stored EIP, or raised #GP.
                            if (f.B != 0) il.Emit(OpCodes.Ret);
                            else
                            {
                                il.Emit(OpCodes.Ldarg_1);
                                il.Emit(OpCodes.Ldfld, BreakBlock);
                                il.Emit(OpCodes.Brtrue, _return);
                                Link(target, true);
                            }
                            il.MarkLabel(notTaken);
                            Link(next, false);
                            return;
                        }
                    default:
                        {
                            MethodInfo handler = Handlers[(int)f.Kind]
                                ?? throw new InvalidOperationException($"no handler for form {f.Kind}");
                            // Data forms never read EIP or the restart point: those are stored only if they leave early.
                            bool data = DataForms.Contains(f.Kind);
                            if (!data)
                            {
                                StoreEip(EipStart, at);
                                StoreEip(Eip, next);
                            }
                            AddRetired(k - synced);
                            synced = k;
                            il.Emit(OpCodes.Ldarg_1);
                            foreach (ParameterInfo p in handler.GetParameters())
                            {
                                bool form = p.ParameterType == FormRef;
                                il.Emit(OpCodes.Ldarg_0);
                                il.Emit(OpCodes.Ldfld, form ? Forms : Code);
                                il.Emit(OpCodes.Ldc_I4, j);
                                il.Emit(OpCodes.Ldelema, form ? typeof(OpForm) : typeof(Instruction));
                            }
                            il.Emit(OpCodes.Call, handler);
                            il.Emit(OpCodes.Ldarg_1);
                            il.Emit(OpCodes.Ldfld, BreakBlock);
                            if (data)
                            {
                                Label leave = il.DefineLabel();
                                il.Emit(OpCodes.Brtrue, leave);
                                _dataExits.Add((leave, at, next));
                                if (!last) break;
                                AddRetired(1);
                                Link(next, false);
                                return;
                            }
                            il.Emit(OpCodes.Brtrue, _breakExit);
                            if (!last) break;
                            AddRetired(1);
                            // The handler has set EIP: a direct CALL or JMP continues here when its target is in the
                            // page, anything else returns.
                            if (f.Kind == Form.CallRel32) Link(next + f.Imm, true);
                            else if (f.Kind == Form.Jmp && page.Code[j].Op0Kind == OpKind.NearBranch32)
                                Link((uint)page.Code[j].NearBranchTarget, true);
                            else il.Emit(OpCodes.Ret);
                            return;
                        }
                }
            }
            // The block ended on an inline form: its length limit, or the next instruction starts a block.
            AddRetired(count - synced);
            Link(page.Offsets[start + count - 1] + (uint)forms[start + count - 1].Length, false);
        }

        /// <summary>Continues at page offset <paramref name="target"/>: a jump to its compiled block while the budget
        /// and the link count allow, else a return with EIP there (already stored when <paramref name="stored"/>).</summary>
        void Link(uint target, bool stored)
        {
            Label leave = stored ? _return : LeaveAt(target);
            if (!_entryAt.TryGetValue(target, out int idx))
            {
                il.Emit(OpCodes.Br, leave);
                return;
            }
            il.Emit(OpCodes.Ldloc, _links);
            il.Emit(OpCodes.Ldc_I4_1);
            il.Emit(OpCodes.Sub);
            il.Emit(OpCodes.Dup);
            il.Emit(OpCodes.Stloc, _links);
            il.Emit(OpCodes.Brfalse, leave);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldfld, Instructions);
            il.Emit(OpCodes.Ldc_I4, page.Counts[idx]);
            il.Emit(OpCodes.Conv_U8);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldfld, RunLimit);
            il.Emit(OpCodes.Bgt_Un, leave);
            il.Emit(OpCodes.Br, _blocks[idx]);
        }

        Label LeaveAt(uint offset)
        {
            if (!_leaves.TryGetValue(offset, out Label l)) _leaves[offset] = l = il.DefineLabel();
            return l;
        }

        /// <summary>Pushes general register <paramref name="r"/> (EAX = 0).</summary>
        void LoadRegister(int r)
        {
            RegisterAddress(r);
            il.Emit(OpCodes.Ldind_U4);
        }

        void StoreRegister(int r, Action value)
        {
            RegisterAddress(r);
            value();
            il.Emit(OpCodes.Stind_I4);
        }

        void RegisterAddress(int r)
        {
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldflda, Registers);
            if (r != 0)
            {
                il.Emit(OpCodes.Ldc_I4, r * 4);
                il.Emit(OpCodes.Add);
            }
        }

        /// <summary>Pushes a 32-bit addressing form's offset: displacement + base + index &lt;&lt; scale.</summary>
        void EffectiveAddress(in OpForm f)
        {
            il.Emit(OpCodes.Ldc_I4, (int)f.Disp);
            if ((f.Base & OpForm.NoRegister) == 0)
            {
                LoadRegister(f.Base & 7);
                il.Emit(OpCodes.Add);
            }
            if (f.Index != OpForm.NoRegister)
            {
                LoadRegister(f.Index & 7);
                if (f.Index >> 3 != 0)
                {
                    il.Emit(OpCodes.Ldc_I4, f.Index >> 3);
                    il.Emit(OpCodes.Shl);
                }
                il.Emit(OpCodes.Add);
            }
        }

        /// <summary>Pushes the EIP of page offset <paramref name="offset"/>.</summary>
        void EipAt(uint offset)
        {
            il.Emit(OpCodes.Ldloc, _base);
            if (offset != 0)
            {
                il.Emit(OpCodes.Ldc_I4, (int)offset);
                il.Emit(OpCodes.Add);
            }
        }

        void StoreEip(FieldInfo field, uint offset)
        {
            il.Emit(OpCodes.Ldarg_1);
            EipAt(offset);
            il.Emit(OpCodes.Stfld, field);
        }

        /// <summary>Adds <paramref name="n"/> to the retired-instruction count.</summary>
        void AddRetired(int n)
        {
            if (n == 0) return;
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldfld, Instructions);
            il.Emit(OpCodes.Ldc_I4, n);
            il.Emit(OpCodes.Conv_U8);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stfld, Instructions);
        }
    }
}
