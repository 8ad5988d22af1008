// Console texts: zh-CN first, English available. The choice is kept in localStorage.
const texts = {
  zh: {
    app: '一件事一次办', login: '登录', logout: '退出', user: '用户名', password: '密码', language: 'English',
    worklist: '我的待办', intake: '综窗受理', dashboard: '监管看板', users: '用户管理', cases: '办件',
    due: '办理时限', light: '预警', case: '办件编号', bundle: '一件事', item: '事项', state: '状态', department: '部门',
    yellow: '黄灯预警', red: '红灯超时', none: '—', empty: '暂无待办事项',
    form: '申请信息', materials: '材料清单', items: '办理事项', timeline: '办理记录', actions: '可执行操作',
    material: '材料', status: '状态', file: '文件', verify: '核验通过', refuse: '退回', reason: '理由',
    upload: '上传', elicense: '调取电子证照', download: '下载', phase: '阶段', deadline: '截止时间',
    from_elicense: '电子证照，免提交', secondary: '可容缺后补',
    withdraw: '撤回申请', deliver: '出件', rate: '记录评价', channel: '出件方式', level: '评价等级', comment: '评价内容',
    window: '窗口领取', mail: '邮寄', electronic: '电子送达',
    choose_bundle: '选择一件事', start_case: '受理', applicant: '申请人证件号码', situation: '情形', required: '必填',
    invalid_number: '请输入数字', invalid_idcard: '身份证号码校验不通过', invalid_phone: '手机号码格式不正确',
    invalid_date: '日期格式为 YYYY-MM-DD', invalid_uscc: '统一社会信用代码应为18位',
    from: '起', to: '止', refresh: '刷新', overall: '总体',
    cases_started: '受理件数', cases_completed: '办结件数', on_time_rate: '按时办结率', average_workdays: '平均办理工作日',
    immediate_rate: '即办率', fully_online_rate: '全程网办率', elicense_reuse: '电子证照复用（份/材料总数）', average_visits: '平均跑动次数', corrections_per_case: '件均补正次数', good_rating_rate: '好评率',
    ratings: '好差评分布', overdue_by_department: '超时办件（按部门）',
    name: '账号', display_name: '姓名', role: '角色', create: '创建', disabled: '停用',
    window_clerk: '综窗人员', reviewer: '部门审核', supervisor: '监管人员', designer: '流程设计', admin: '管理员', department_system: '部门系统',
    running: '办理中', completed: '已办结', withdrawn: '已撤回', delivered: '已出件', rated: '已评价',
    material_missing: '未提交', material_submitted: '待核验', material_verified: '已核验', material_rejected: '已退回', material_tolerated: '容缺',
    waiting: '等待前置事项', not_applicable: '不适用', active: '办理中', done: '已完成', cancelled: '已取消',
    CaseStarted: '受理', MaterialAttached: '提交材料', MaterialVerified: '材料核验通过', MaterialRejected: '材料退回',
    MaterialProduced: '生成材料', MaterialTolerated: '容缺受理', ItemActivated: '事项开始办理', ItemNotApplicable: '事项不适用',
    ItemCancelled: '事项取消', ItemTransitioned: '事项流转', ClockPaused: '暂停计时', ClockResumed: '恢复计时',
    ItemWarned: '黄灯预警', ItemOverdue: '红灯超时', CaseCompleted: '办结', CaseWithdrawn: '撤回', CaseDelivered: '出件', CaseRated: '评价',
    saved: '已完成', not_allowed: '无权操作',
    calls: '部门系统调用', process: '办理流程', system: '系统 / 操作', attempts: '尝试次数', last_error: '最近错误', note: '处理说明',
    retry: '重试', resolve: '人工办结', call_pending: '待发送', call_delivered: '已送达', call_parked: '已挂起',
  },
  en: {
    app: 'One thing, one visit', login: 'Log in', logout: 'Log out', user: 'User', password: 'Password', language: '中文',
    worklist: 'My worklist', intake: 'Intake', dashboard: 'Dashboard', users: 'Users', cases: 'Cases',
    due: 'Due', light: 'Light', case: 'Case', bundle: 'Bundle', item: 'Item', state: 'State', department: 'Department',
    yellow: 'yellow', red: 'overdue', none: '—', empty: 'Nothing waiting for you',
    form: 'Application', materials: 'Materials', items: 'Items', timeline: 'Timeline', actions: 'Actions',
    material: 'Material', status: 'Status', file: 'File', verify: 'Verify', refuse: 'Refuse', reason: 'Reason',
    upload: 'Upload', elicense: 'Fetch e-license', download: 'Download', phase: 'Phase', deadline: 'Deadline',
    from_elicense: 'e-license, not to bring', secondary: 'may follow later (tolerant intake)',
    withdraw: 'Withdraw', deliver: 'Deliver', rate: 'Record rating', channel: 'Channel', level: 'Level', comment: 'Comment',
    window: 'At the window', mail: 'By mail', electronic: 'Electronic',
    choose_bundle: 'Choose a bundle', start_case: 'Start case', applicant: 'Applicant ID number', situation: 'Situation', required: 'required',
    invalid_number: 'Enter a number', invalid_idcard: 'The ID number checksum is wrong', invalid_phone: 'Not a mobile number',
    invalid_date: 'Dates are YYYY-MM-DD', invalid_uscc: 'A credit code has 18 characters',
    from: 'From', to: 'To', refresh: 'Refresh', overall: 'Overall',
    cases_started: 'Cases started', cases_completed: 'Completed', on_time_rate: 'On time', average_workdays: 'Avg. working days',
    immediate_rate: 'Immediate', fully_online_rate: 'Fully online', elicense_reuse: 'From e-licenses / materials', average_visits: 'Avg. visits', corrections_per_case: 'Corrections / case', good_rating_rate: 'Good ratings',
    ratings: 'Ratings', overdue_by_department: 'Overdue cases by department',
    name: 'Account', display_name: 'Name', role: 'Role', create: 'Create', disabled: 'Disabled',
    window_clerk: 'Window clerk', reviewer: 'Reviewer', supervisor: 'Supervisor', designer: 'Designer', admin: 'Admin', department_system: 'Department system',
    running: 'running', completed: 'completed', withdrawn: 'withdrawn', delivered: 'delivered', rated: 'rated',
    material_missing: 'missing', material_submitted: 'to verify', material_verified: 'verified', material_rejected: 'refused', material_tolerated: 'pending (tolerated)',
    waiting: 'waiting', not_applicable: 'not applicable', active: 'active', done: 'done', cancelled: 'cancelled',
    saved: 'Done', not_allowed: 'Not allowed',
    calls: "Departments' system calls", process: 'Process', system: 'System / operation', attempts: 'Attempts', last_error: 'Last error', note: 'Note',
    retry: 'Retry', resolve: 'Resolve by hand', call_pending: 'pending', call_delivered: 'delivered', call_parked: 'parked',
  },
};

export let lang = localStorage.getItem('ov_lang') === 'en' ? 'en' : 'zh';

export function setLang(value) {
  lang = value;
  localStorage.setItem('ov_lang', value);
  document.documentElement.lang = value === 'en' ? 'en' : 'zh-CN';
}

/** The text for `key`; English falls back to the key itself (event names, states). */
export function t(key) {
  return texts[lang][key] ?? (lang === 'zh' ? texts.en[key] : undefined) ?? key;
}
